"""`agent install` / `agent update`: put this program on a host over SSH and run it there as an
agent under systemd.

Install: a wheel of this program (built from its source tree, or repacked from the installed
files) is copied to the host over SFTP, installed in a virtual environment of its own
(`PREFIX/venv`), the agent's settings are written to `CONFIG_DIR/agent.env` (mode 0600: it
holds the join token) and the unit from deploy/ (`sloth_daemon/units/sloth-agent.service`) to
`UNIT_DIR/sloth-agent.service` with these paths; then `systemctl daemon-reload`, `systemctl
enable --now`. Update: the new wheel replaces the installed one in place and `systemctl
restart`; the agent comes back with its name and tags (they are in agent.env). Both wait until
the master sees the agent connected (a new connection, for an update).

Host keys are checked against known_hosts (sloth_engine.modules.ssh_connect): a host with no
entry is refused unless `accept_new` (then its key is recorded), a host whose entry holds
another key is always refused.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError

UNIT_NAME = "sloth-agent"
DIST = "sloth-runner"
Say = Callable[[str], None]


@dataclass
class Install:
    """Where an agent goes and how it is reached; kept in $SLOTH_HOME/agents/installed.json
    so that `agent update NAME` finds it again."""

    host: str
    ssh_user: str
    name: str
    master: str
    ssh_port: int = 22
    ssh_key: str | None = None
    known_hosts: str = ""
    tags: str = ""
    max_tasks: int = 4
    prefix: str = "/opt/sloth-runner"
    config_dir: str = "/etc/sloth-runner"
    unit_dir: str = "/etc/systemd/system"
    state_dir: str = "/var/lib/sloth-runner-agent"
    python: str = "python3"
    pip_args: list[str] = field(default_factory=list)

    @property
    def venv(self) -> str:
        return f"{self.prefix}/venv"

    @property
    def env_file(self) -> str:
        return f"{self.config_dir}/agent.env"

    @property
    def unit_file(self) -> str:
        return f"{self.unit_dir}/{UNIT_NAME}.service"


# ---- what is written on the host -------------------------------------------------------------


def unit_text(spec: Install) -> str:
    """deploy/'s unit with this install's paths."""
    text = resources.files("sloth_daemon.units").joinpath(f"{UNIT_NAME}.service").read_text()
    for old, new in (
        ("/opt/sloth-runner/venv", spec.venv),
        ("/etc/sloth-runner/agent.env", spec.env_file),
        ("/var/lib/sloth-runner-agent", spec.state_dir),
    ):
        text = text.replace(old, new)
    return text


def env_text(spec: Install, join_token: str | None) -> str:
    lines = [
        f"SLOTH_MASTER={spec.master}",
        f"SLOTH_AGENT_NAME={spec.name}",
        f"SLOTH_TAGS={spec.tags}",
        f"SLOTH_MAX_TASKS={spec.max_tasks}",
        f"SLOTH_HOME={spec.state_dir}",
    ]
    if join_token:
        lines.append(f"SLOTH_TOKEN={join_token}")
    return "\n".join(lines) + "\n"


def commands(spec: Install, wheel: str, update: bool) -> list[str]:
    """The shell commands run on the host, in order (also what --check shows)."""
    q = shlex.quote
    pip = f"{q(spec.venv + '/bin/pip')} install {' '.join(q(a) for a in spec.pip_args)}".rstrip()
    steps = [f"test -x {q(spec.venv + '/bin/python')} || {q(spec.python)} -m venv {q(spec.venv)}"]
    if update:  # the same version number may hold new code: replace it, then add new dependencies
        steps.append(f"{pip} --force-reinstall --no-deps {q(wheel)}")
    steps.append(f"{pip} {q(wheel)}")
    steps.append(f"{q(spec.venv + '/bin/sloth-daemon')} --version")
    steps.append("systemctl daemon-reload")
    steps.append(f"systemctl restart {UNIT_NAME}" if update else f"systemctl enable --now {UNIT_NAME}")
    return steps


# ---- the wheel ---------------------------------------------------------------------------------


def build_wheel(out_dir: Path) -> Path:
    """A wheel of this program: built from its source tree when it runs from one (an editable
    install), else repacked from the installed files."""
    dist = importlib.metadata.distribution(DIST)
    source = _source_tree(dist)
    if source is not None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(out_dir),
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise UsageError(f"cannot build a wheel of {source}: {done.stderr.strip()[-2000:]}")
        found = sorted(out_dir.glob("sloth_runner-*.whl"))
        if not found:
            raise UsageError(f"pip built no wheel of {source}")
        return found[-1]
    return _repack(dist, out_dir)


def _source_tree(dist: importlib.metadata.Distribution) -> Path | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    url = str(info.get("url", ""))
    if not info.get("dir_info", {}).get("editable") or not url.startswith("file://"):
        return None
    path = Path(url[len("file://") :])
    return path if (path / "pyproject.toml").exists() else None


def _repack(dist: importlib.metadata.Distribution, out_dir: Path) -> Path:
    """The installed files of the distribution (its RECORD) as a wheel; the scripts are left
    out (pip makes them again from the entry points)."""
    name = f"sloth_runner-{dist.version}-py3-none-any.whl"
    target = out_dir / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as whl:
        for item in dist.files or []:
            path = str(item)
            if path.startswith("..") or path.endswith(".pyc") or "__pycache__" in path:
                continue
            whl.write(item.locate(), path)
    return target


# ---- on the host ---------------------------------------------------------------------------------


async def run_on_host(
    spec: Install,
    accept_new: bool,
    make_wheel: Callable[[], Path],
    join_token: str | None,
    update: bool,
    say: Say,
) -> None:
    """Copy the wheel (made once the host is reached and its key checked), install it, write
    the settings and the unit, (re)start the agent."""
    connect = importlib.import_module("sloth_engine.modules.ssh_connect")
    client = importlib.import_module("sloth_engine.modules.ssh_client")
    asyncssh = importlib.import_module("asyncssh")
    keys = [asyncssh.read_private_key(spec.ssh_key)] if spec.ssh_key else None
    target = client.Target(
        spec.host,
        spec.ssh_user,
        spec.ssh_port,
        client_keys=keys,
        known_hosts=client.known_hosts_path(spec.known_hosts or None),
        accept_new=accept_new,
    )
    where = f"{spec.ssh_user}@{spec.host}"
    conn = await connect.open_connection(target)
    try:
        q = shlex.quote
        folders = " ".join(
            q(d) for d in (f"{spec.prefix}/wheels", spec.config_dir, spec.unit_dir, spec.state_dir)
        )
        await _run(conn, f"mkdir -p {folders} && chmod 0700 {q(spec.config_dir)}", where, say)
        wheel = await asyncio.to_thread(make_wheel)
        remote_wheel = f"{spec.prefix}/wheels/{wheel.name}"
        say(f"{where}: copy {wheel.name} to {remote_wheel}")
        async with conn.start_sftp_client() as sftp:
            await sftp.put(str(wheel), remote_wheel)
            if not update:  # an update keeps the settings (name, tags, join token) as they are
                await _write(sftp, spec.env_file, env_text(spec, join_token), 0o600)
            await _write(sftp, spec.unit_file, unit_text(spec), 0o644)
        say(f"{where}: wrote {spec.unit_file}" + ("" if update else f" and {spec.env_file}"))
        for command in commands(spec, remote_wheel, update):
            await _run(conn, command, where, say)
    finally:
        conn.close()
        await conn.wait_closed()


async def _write(sftp: Any, path: str, text: str, mode: int) -> None:
    async with sftp.open(path, "w") as out:
        await out.write(text)
    await sftp.chmod(path, mode)


async def _run(conn: Any, command: str, where: str, say: Say) -> None:
    say(f"{where}: {command}")
    done = await conn.run(command, check=False)
    if done.exit_status != 0:
        output = (str(done.stderr or "") + str(done.stdout or "")).strip()[-3000:]
        raise UsageError(f"{where}: `{command}` failed with exit {done.exit_status}: {output}")


# ---- the master ------------------------------------------------------------------------------------


def wait_connected(client: Any, name: str, after: float, timeout: float) -> dict[str, Any]:
    """The agent as the master sees it once it connected after `after` (epoch seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        for agent in client.list_agents():
            connected = agent.get("connected_at") or 0
            if agent["name"] == name and agent["status"] == "connected" and connected >= after:
                return dict(agent)
        if time.monotonic() > deadline:
            raise UsageError(f"agent {name} did not connect to the master within {timeout:g}s")
        time.sleep(0.2)


# ---- what was installed where ------------------------------------------------------------------------


def records_path(home: Path) -> Path:
    return home / "agents" / "installed.json"


def load_records(home: Path) -> dict[str, Install]:
    path = records_path(home)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read the installed agents ({exc})") from None
    return {name: Install(**item) for name, item in data.items()}


def save_record(home: Path, spec: Install) -> None:
    records = load_records(home)
    records[spec.name] = spec
    path = records_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".installed-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({n: asdict(s) for n, s in sorted(records.items())}, out, indent=2)
    os.replace(tmp, path)


def find_record(home: Path, name_or_host: str) -> Install:
    records = load_records(home)
    if name_or_host in records:
        return records[name_or_host]
    by_host = [s for s in records.values() if s.host == name_or_host]
    if len(by_host) == 1:
        return by_host[0]
    if by_host:
        names = ", ".join(s.name for s in by_host)
        raise UsageError(f"several agents were installed on {name_or_host} ({names}): name one")
    raise UsageError(
        f"no agent named or installed on '{name_or_host}' by `agent install` from here ({records_path(home)})"
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)
