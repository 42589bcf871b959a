"""`agent install` / `agent update` against a real OpenSSH server on 127.0.0.1 (the "host" is
this machine, logged into as root) and a real master: the agent is installed in a fresh
virtualenv on the host, started by its systemd unit, connects, runs a delegated task; an
update reinstalls it in place and it reconnects with its name and tags; a wrong host key is
refused.

This container has no systemd: a fake `systemctl` first on the SSH session's PATH (sshd's
SetEnv) starts and stops the agent from the unit's ExecStart, Environment= and
EnvironmentFile= lines, as systemd would. pip on the host installs from a wheelhouse the test
fills from the local package index (`--pip-args "--no-index --find-links DIR"`, what an
installation without internet access does), so nothing is downloaded twice.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_cluster import Cluster
from ssh_server import SSHD, keygen, start_sshd

pytestmark = pytest.mark.timeout(900)

FAKE_SYSTEMCTL = r'''#!/usr/bin/python3
"""systemctl for a container without systemd: daemon-reload, enable [--now], start, stop,
restart, is-active of units in UNIT_DIR; a started unit's ExecStart runs in the background."""
import os, shlex, signal, subprocess, sys, time

UNIT_DIR, RUN_DIR = %(unit_dir)r, %(run_dir)r
args = [a for a in sys.argv[1:] if not a.startswith("--") or a == "--now"]
verb, rest = args[0], args[1:]
os.makedirs(RUN_DIR, exist_ok=True)
with open(os.path.join(RUN_DIR, "calls.log"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")

def unit(name):
    env, cwd, start = dict(os.environ), "/", None
    for line in open(os.path.join(UNIT_DIR, name + ".service")):
        key, _, value = line.strip().partition("=")
        if key == "Environment":
            k, _, v = value.partition("=")
            env[k] = v
        elif key == "EnvironmentFile":
            for item in open(value.lstrip("-")):
                k, _, v = item.strip().partition("=")
                if k and not k.startswith("#"):
                    env[k] = v
        elif key == "WorkingDirectory":
            cwd = value
        elif key == "ExecStart":
            start = value
    return env, cwd, start

def pid_file(name):
    return os.path.join(RUN_DIR, name + ".pid")

def running(name):
    try:
        pid = int(open(pid_file(name)).read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None

def start(name):
    if running(name):
        return
    env, cwd, command = unit(name)
    os.makedirs(cwd, exist_ok=True)
    out = open(os.path.join(RUN_DIR, name + ".log"), "ab")
    proc = subprocess.Popen(shlex.split(command), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    open(pid_file(name), "w").write(str(proc.pid))

def stop(name):
    pid = running(name)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(600):
        if running(name) is None:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)

names = [n[:-len(".service")] if n.endswith(".service") else n for n in rest if n != "--now"]
if verb == "daemon-reload":
    sys.exit(0)
if verb == "enable":
    if "--now" in rest:
        for n in names: start(n)
elif verb == "start":
    for n in names: start(n)
elif verb == "stop":
    for n in names: stop(n)
elif verb == "restart":
    for n in names: stop(n); start(n)
elif verb == "is-active":
    sys.exit(0 if all(running(n) for n in names) else 3)
else:
    sys.exit("fake systemctl: unknown verb " + verb)
'''

FLOW = """
local where = task("where"):delegate_to("box1"):command(function()
  return true, "ran"
end)
workflow.define("where"):tasks({ where })
"""


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This program's dependencies as wheels, taken from the configured (local) index."""
    folder = tmp_path_factory.mktemp("wheelhouse")
    requires = [r for r in importlib.metadata.requires("sloth-runner") or [] if "extra ==" not in r]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(folder), *requires],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def host(tmp_path: Path) -> Iterator[dict[str, Path | int]]:
    """An sshd whose sessions find the fake systemctl first on their PATH."""
    assert os.path.exists(SSHD), "openssh-server is not installed (.ci/run installs it)"
    root = tmp_path / "sshd"
    fakebin = tmp_path / "fakebin"
    root.mkdir()
    fakebin.mkdir()
    unit_dir, run_dir = tmp_path / "host" / "units", tmp_path / "host" / "run"
    systemctl = fakebin / "systemctl"
    systemctl.write_text(FAKE_SYSTEMCTL % {"unit_dir": str(unit_dir), "run_dir": str(run_dir)})
    systemctl.chmod(0o755)
    keygen(root / "host_key")
    keygen(root / "client_key")
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    config = (
        "Port {port}\nListenAddress 127.0.0.1\n"
        f"HostKey {root}/host_key\nAuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/sshd.pid\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"
        f"SetEnv PATH={fakebin}:/usr/local/bin:/usr/bin:/bin\n"
    )
    proc, port = start_sshd(root, config)
    host_pub = (root / "host_key.pub").read_text().split()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    try:
        yield {
            "port": port,
            "key": root / "client_key",
            "known_hosts": root / "known_hosts",
            "unit_dir": unit_dir,
            "run_dir": run_dir,
            "systemctl": systemctl,
            "base": tmp_path / "host",
        }
    finally:
        subprocess.run([str(systemctl), "stop", "sloth-agent"], timeout=120, check=False)
        proc.terminate()
        proc.wait(10)


def _ssh_args(host: dict[str, Path | int], known_hosts: Path | None = None) -> list[str]:
    return [
        "--ssh-user",
        "root",
        "--ssh-port",
        str(host["port"]),
        "--ssh-key",
        str(host["key"]),
        "--known-hosts",
        str(known_hosts or host["known_hosts"]),
    ]


def _where(host: dict[str, Path | int]) -> list[str]:
    base = Path(str(host["base"]))
    return [
        "--prefix",
        str(base / "opt"),
        "--config-dir",
        str(base / "etc"),
        "--unit-dir",
        str(host["unit_dir"]),
        "--state-dir",
        str(base / "state"),
        "--python",
        "/usr/bin/python3",
    ]


def test_agent_install_update_and_a_wrong_host_key(
    tmp_path: Path, host: dict[str, Path | int], wheelhouse: Path
) -> None:
    cluster = Cluster(tmp_path / "cluster")
    try:
        master = cluster.start_master()
        base = Path(str(host["base"]))
        pip = ["--pip-args", f"--no-index --find-links {wheelhouse}"]
        install = ["agent", "install", "127.0.0.1", "--name", "box1", "--tags", "role=web,zone=a"]
        install += ["--master", master, *_where(host), *pip]

        # A host whose known_hosts entry holds another key is refused; nothing is done there.
        other = tmp_path / "other_key"
        keygen(other)
        wrong = tmp_path / "wrong_known_hosts"
        pub = (other.with_suffix(".pub")).read_text().split()
        wrong.write_text(f"[127.0.0.1]:{host['port']} {pub[0]} {pub[1]}\n")
        refused = cluster.cli(*install, *_ssh_args(host, wrong), "--accept-new-host-key", timeout=600)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "host key of [127.0.0.1]:" in refused.stderr and "not trusted" in refused.stderr, (
            refused.stderr
        )
        assert "Traceback" not in refused.stderr
        assert not (base / "opt").exists()

        checked = cluster.cli(*install, *_ssh_args(host), "--check")
        assert checked.returncode == 0, checked.stderr
        assert "systemctl enable --now sloth-agent" in checked.stdout and not (base / "opt").exists()

        done = cluster.cli(*install, *_ssh_args(host), timeout=800)
        assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()
        assert "agent box1 on 127.0.0.1: installed, connected" in done.stdout, done.stdout
        assert "role=web,zone=a" in done.stdout
        env_file = base / "etc" / "agent.env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        unit = (Path(str(host["unit_dir"])) / "sloth-agent.service").read_text()
        assert f"{base}/opt/venv/bin/sloth-daemon agent" in unit and f"EnvironmentFile={env_file}" in unit
        assert (base / "opt" / "venv" / "bin" / "sloth-daemon").exists()

        flow = cluster.write("where.sloth", FLOW)
        ran = cluster.cli("run", str(flow), "--master", master, "-o", "json", timeout=300)
        assert ran.returncode == 0, ran.stdout + ran.stderr + cluster.logs()
        task = json.loads(ran.stdout)["tasks"][0]
        assert (task["agent"], task["message"]) == ("box1", "ran")
        first_pid = (Path(str(host["run_dir"])) / "sloth-agent.pid").read_text()
        # the agent runs from the virtualenv on the host, with the unit's settings
        command = Path(f"/proc/{first_pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert f"{base}/opt/venv/bin/sloth-daemon agent --master {master} --name box1" in command, command

        updated = cluster.cli("agent", "update", "box1", "--master", master, timeout=800)
        assert updated.returncode == 0, updated.stdout + updated.stderr + cluster.logs()
        assert "agent box1 on 127.0.0.1: updated, connected" in updated.stdout
        assert "role=web,zone=a" in updated.stdout
        assert (Path(str(host["run_dir"])) / "sloth-agent.pid").read_text() != first_pid  # restarted
        calls = (Path(str(host["run_dir"])) / "calls.log").read_text().splitlines()
        assert calls == ["daemon-reload", "enable --now sloth-agent", "daemon-reload", "restart sloth-agent"]
        again = cluster.cli("run", str(flow), "--master", master, "-o", "json", timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr + cluster.logs()
        assert json.loads(again.stdout)["tasks"][0]["agent"] == "box1"

        unknown = cluster.cli("agent", "update", "nobody", "--master", master)
        assert unknown.returncode == 2 and "no agent named or installed on 'nobody'" in unknown.stderr
    finally:
        cluster.close()
