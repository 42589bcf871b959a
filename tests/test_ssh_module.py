"""The `ssh` module against a real OpenSSH server (Debian's /usr/sbin/sshd) that the test
starts on 127.0.0.1 with its own host key, authorized_keys and config; the "remote" files
are on this machine's disk, so every call is checked on the real files."""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import socketserver
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ssh_server import SSHD, Server, keygen, start_sshd

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    assert os.path.exists(SSHD), "openssh-server is not installed (.ci/run installs it)"
    root = tmp_path_factory.mktemp("sshd")
    keygen(root / "host_key")
    keygen(root / "client_key")
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    config = (
        "Port {port}\nListenAddress 127.0.0.1\n"
        f"HostKey {root}/host_key\nAuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/sshd.pid\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nAllowAgentForwarding yes\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    proc, port = start_sshd(root, config)
    host_pub = (root / "host_key.pub").read_text().split()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    try:
        yield Server(
            port, root, root / "client_key", root / "host_key", root / "known_hosts", root / "authorized_keys"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class Lua:
    def __init__(self, root: Path, server: Server, check: bool = False) -> None:
        self.sandbox = Sandbox()
        self.sandbox.scope = TaskScope(task_name="t", workdir=str(root))
        self.env = ModuleEnv(base_dir=root, check_mode=check)
        for name in ("ssh", "data"):
            importlib.import_module(f"sloth_engine.modules.{name}_mod").install(self.sandbox, self.env)
        self.sandbox.globals()["PORT"] = server.port
        self.sandbox.globals()["KEY"] = str(server.client_key)
        self.sandbox.globals()["KNOWN"] = str(server.known_hosts)

    def run(self, body: str, seconds: float = 30) -> Any:
        source = (
            "local function open(extra)\n"
            "  local o = {port = PORT, key_path = KEY, known_hosts = KNOWN, timeout = 10}\n"
            "  for k, v in pairs(extra or {}) do o[k] = v end\n"
            "  return ssh.connect('127.0.0.1', 'root', o)\nend\n"
            "return function() " + body + "\nend"
        )
        fn = self.sandbox.run_lua(source, "test.sloth")
        result = self.sandbox.call(fn, deadline=time.monotonic() + seconds)
        if isinstance(result, tuple):
            return tuple(self.sandbox.to_py(v, keep_functions=False) for v in result)
        return self.sandbox.to_py(result, keep_functions=False)


@pytest.fixture
def lua(tmp_path: Path, sshd: Server) -> Lua:
    return Lua(tmp_path, sshd)


def test_exec_results_stdin_methods_and_disconnect(lua: Lua, tmp_path: Path) -> None:
    ok, res = lua.run("local c = assert(open()) return ssh.exec(c, 'echo out; echo err >&2; exit 3')")
    assert ok is True
    assert res == {"stdout": "out\n", "stderr": "err\n", "exit_code": 3, "success": False}
    got = lua.run(
        "local c = assert(open())\n"
        "local ok, r = c:exec('tr a-z A-Z', {stdin = 'hello'})\n"
        "local ok2, w = c:exec('whoami')\n"
        "assert(c:disconnect() == true)\n"
        "local fine, err = pcall(ssh.exec, c, 'true')\n"
        "return r.stdout, w.stdout, fine, err"
    )
    assert got[:3] == ("HELLO", "root\n", False)
    assert "closed" in got[3]


def test_exec_timeout_and_task_deadline(lua: Lua) -> None:
    ok, res = lua.run("local c = assert(open()) return ssh.exec(c, 'sleep 8', {timeout = 0.5})")
    assert ok is True and res["exit_code"] == 124 and "timed out" in res["stderr"]
    started = time.monotonic()
    with pytest.raises(LuaRuntimeError, match="time limit"):
        lua.run("local c = assert(open()) return ssh.exec(c, 'sleep 8')", seconds=2)
    assert time.monotonic() - started < 10


def test_bad_input_is_a_lua_error(lua: Lua) -> None:
    with pytest.raises(LuaRuntimeError, match="expected a connection from ssh.connect"):
        lua.run("return ssh.exec('nope', 'ls')")
    with pytest.raises(LuaRuntimeError, match="host must be a non-empty string"):
        lua.run("return ssh.connect(nil, 'root', {known_hosts = KNOWN})")
    with pytest.raises(LuaRuntimeError, match="mode"):
        lua.run("local c = assert(open()) return ssh.chmod(c, '/tmp', 'rwx')")
    conn, err = lua.run("return open({key_path = 'missing_key'})")
    assert conn is None and "failed to read key" in err


def test_files_on_the_remote_disk(lua: Lua, tmp_path: Path) -> None:
    (tmp_path / "local.txt").write_text("payload\n")
    remote = tmp_path / "remote"
    got = lua.run(
        f"local c = assert(open()) local R = '{remote}'\n"
        "assert(ssh.mkdir(c, R .. '/a/b') == true)\n"
        "assert(ssh.upload(c, 'local.txt', R .. '/a/f.txt') == true)\n"
        "local e1, e2 = ssh.exists(c, R .. '/a/f.txt'), ssh.exists(c, R .. '/nothing')\n"
        "local _, st = ssh.stat(c, R .. '/a/f.txt')\n"
        "assert(ssh.chmod(c, R .. '/a/f.txt', '0640') == true)\n"
        "assert(ssh.chown(c, R .. '/a/f.txt', 1, 2) == true)\n"
        "assert(ssh.rename(c, R .. '/a/f.txt', R .. '/a/g.txt') == true)\n"
        "assert(ssh.download(c, R .. '/a/g.txt', 'back.txt') == true)\n"
        "local _, list = ssh.list_dir(c, R .. '/a')\n"
        "local no, why = ssh.stat(c, R .. '/nothing')\n"
        "local rm_full, rm_err = ssh.remove(c, R .. '/a')\n"
        "return e1, e2, st, list, no, why, rm_full, rm_err"
    )
    e1, e2, st, listing, no, why, rm_full, rm_err = got
    assert (e1, e2) == (True, False)
    assert (
        st["name"] == "f.txt" and st["size"] == 8 and st["is_dir"] is False and st["mode"].startswith("-rw")
    )
    assert abs(st["mod_time"] - (tmp_path / "local.txt").stat().st_mtime) < 2
    assert [(e["name"], e["is_dir"]) for e in listing] == [("b", True), ("g.txt", False)]
    assert listing[1]["mode"] == "-rw-r-----"
    moved = remote / "a" / "g.txt"
    assert stat.S_IMODE(moved.stat().st_mode) == 0o640 and (moved.stat().st_uid, moved.stat().st_gid) == (
        1,
        2,
    )
    assert not (remote / "a" / "f.txt").exists() and (tmp_path / "back.txt").read_text() == "payload\n"
    assert no is None and "nothing" in why
    assert rm_full is False and "failed to remove" in rm_err  # not empty: needs recursive
    assert (
        lua.run(f"local c = assert(open()) return ssh.remove(c, '{remote}/a', {{recursive = true}})") is True
    )
    assert not (remote / "a").exists()


def test_directory_transfers(lua: Lua, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deep").mkdir(parents=True)
    (tree / "top.sh").write_text("#!/bin/sh\necho hi\n")
    (tree / "top.sh").chmod(0o755)
    (tree / "sub" / "deep" / "x.txt").write_text("x")
    up, down = tmp_path / "up", tmp_path / "down"
    assert lua.run(
        f"local c = assert(open()) return ssh.upload_dir(c, 'tree', '{up}'), ssh.download_dir(c, '{up}', 'down')"
    ) == (True, True)
    for copy in (up, down):
        assert (copy / "top.sh").read_text() == "#!/bin/sh\necho hi\n"
        assert stat.S_IMODE((copy / "top.sh").stat().st_mode) == 0o755
        assert (copy / "sub" / "deep" / "x.txt").read_text() == "x"
    ok, err = lua.run(f"local c = assert(open()) return ssh.download_dir(c, '{tmp_path}/none', 'd2')")
    assert ok is False and "none" in err


def test_wrong_host_key_is_refused(lua: Lua, tmp_path: Path, sshd: Server) -> None:
    keygen(tmp_path / "other")
    other = (tmp_path / "other.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    before = known.read_text()
    for accept in ("false", "true"):
        conn, err = lua.run(f"return open({{known_hosts = '{known}', accept_new_host_key = {accept}}})")
        assert conn is None and "not trusted" in err and "failed to connect" in err
    assert known.read_text() == before


def test_unknown_host_needs_the_explicit_option(lua: Lua, tmp_path: Path, sshd: Server) -> None:
    known = tmp_path / "fresh" / "known_hosts"
    conn, err = lua.run(f"return open({{known_hosts = '{known}'}})")
    assert conn is None and "accept_new_host_key" in err and not known.exists()
    ok, res = lua.run(
        f"local c = assert(open({{known_hosts = '{known}', accept_new_host_key = true}})) return c:exec('echo in')"
    )
    assert res["stdout"] == "in\n"
    host_pub = sshd.host_key.with_suffix(".pub").read_text().split()
    assert known.read_text() == f"[127.0.0.1]:{sshd.port} {host_pub[0]} {host_pub[1]}\n"
    ok, res = lua.run(f"local c = assert(open({{known_hosts = '{known}'}})) return c:exec('echo again')")
    assert res["stdout"] == "again\n"


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = self.request.recv(1024)
        self.request.sendall(b"echo:" + data)


def _ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"ping")
        return sock.recv(1024)


def test_tunnels_local_and_reverse(lua: Lua) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    echo_port = server.server_address[1]
    try:
        lua.sandbox.globals()["ECHO"] = echo_port
        forward, reverse = lua.run(
            "CONN = assert(open())\n"
            "T1 = assert(ssh.create_tunnel(CONN, {remote_port = ECHO}))\n"
            "T2 = assert(ssh.create_tunnel(CONN, {reverse = true, local_port = ECHO}))\n"
            "return T1, T2"
        )
        assert forward["local_port"] != echo_port and forward["remote_port"] == echo_port
        assert _ask(forward["local_port"]) == b"echo:ping"
        assert reverse["remote_port"] not in (0, echo_port) and _ask(reverse["remote_port"]) == b"echo:ping"
        assert lua.run("return ssh.close_tunnel(T1), ssh.close_tunnel(T1)") == (
            True,
            False,
            f"tunnel {forward['id']} is not open",
        )
        with pytest.raises(OSError):
            _ask(forward["local_port"])
        assert lua.run("return ssh.disconnect(CONN)") is True
        with pytest.raises(OSError):
            _ask(reverse["remote_port"])
    finally:
        server.shutdown()
        server.server_close()


def test_agent_forwarding(lua: Lua, tmp_path: Path, sshd: Server) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(sshd.client_key)], env=env, check=True, timeout=30)
        listed = subprocess.run(["ssh-add", "-l"], env=env, capture_output=True, text=True, timeout=30)
        before, ok, res = lua.run(
            "local c = assert(open())\n"
            "local _, before = c:exec('ssh-add -l')\n"
            f"assert(ssh.enable_agent_forward(c, '{sock}') == true)\n"
            "local ok, res = c:exec('ssh-add -l')\n"
            "return before.exit_code, ok, res"
        )
        assert before == 2  # no agent on the remote side before
        assert res["exit_code"] == 0 and res["stdout"] == listed.stdout
    finally:
        agent.terminate()
        agent.wait(10)


def test_keys_and_authorized_keys(lua: Lua, tmp_path: Path, sshd: Server) -> None:
    pair = lua.run("return ssh.generate_keypair{type = 'ed25519', path = 'id_new', comment = 'new@test'}")
    assert pair["public_key"].startswith("ssh-ed25519 ") and pair["public_key"].endswith(" new@test")
    assert stat.S_IMODE((tmp_path / "id_new").stat().st_mode) == 0o600
    assert (tmp_path / "id_new.pub").read_text() == pair["public_key"] + "\n"
    assert pair["fingerprint"].startswith("SHA256:")
    again, err = lua.run("return ssh.generate_keypair{path = 'id_new'}")
    assert again is None and "exists" in err
    assert lua.run("return ssh.load_private_key('id_new')").startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    (tmp_path / "junk").write_text("not a key")
    key, err = lua.run("return ssh.load_private_key('junk')")
    assert key is None and "failed to load key" in err
    rsa = lua.run("return ssh.generate_keypair{type = 'rsa', bits = 2048}")
    assert rsa["public_key"].startswith("ssh-rsa ") and "path" not in rsa

    file = tmp_path / "ak" / "authorized_keys"
    lua.sandbox.globals()["PUB"] = pair["public_key"]
    lua.sandbox.globals()["AK"] = str(file)
    first, second, exists, listing = lua.run(
        "local a = {ssh.add_authorized_key{user = 'root', key = PUB, file = AK}}\n"
        "local b = {ssh.add_authorized_key{user = 'root', key = PUB, file = AK}}\n"
        "return a, b, ssh.key_exists{user = 'root', key = PUB, file = AK},"
        " (ssh.list_authorized_keys{user = 'root', file = AK})"
    )
    assert (
        first == [True, "SSH key added successfully"] and second[1] == "SSH key already present (idempotent)"
    )
    assert exists is True and listing == [pair["public_key"]]
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    check = Lua(tmp_path, sshd, check=True)
    check.sandbox.globals()["PUB"], check.sandbox.globals()["AK"] = pair["public_key"], str(file)
    assert check.run("return ssh.remove_authorized_key{user = 'root', key = PUB, file = AK}")[0] is True
    assert file.read_text() == pair["public_key"] + "\n"  # check mode wrote nothing
    assert lua.run("return ssh.remove_authorized_key{user = 'root', key = PUB, file = AK}") == (
        True,
        "SSH key removed successfully",
    )
    assert file.read_text() == "" and lua.run(
        "return ssh.key_exists{user = 'root', key = PUB, file = AK}"
    ) == (
        False,
        None,
    )
    with pytest.raises(LuaRuntimeError, match="key is required"):
        lua.run("return ssh.add_authorized_key{user = 'root', file = AK}")

    # the new key, authorized on the server through the module, logs in
    lua.sandbox.globals()["SERVER_AK"] = str(sshd.authorized)
    ok, res = lua.run(
        "assert(ssh.add_authorized_key{user = 'root', key = PUB, file = SERVER_AK})\n"
        "local c = assert(open({key_path = 'id_new'})) return c:exec('echo new key')"
    )
    assert res["stdout"] == "new key\n"


RUN_FILE = """
local first = task("first"):command("echo \\"$(whoami) via ${SSH_CONNECTION%% *}\\"; echo $SLOTH_TASK >> @OUT")
local second = task("second"):depends_on({ "first" }):command("exit @CODE")
workflow.define("remote"):tasks({ first, second })
"""


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLOTH_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_with_ssh_runs_each_shell_command_on_each_host(tmp_path: Path, sshd: Server) -> None:
    host_pub = " ".join(sshd.host_key.with_suffix(".pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {host_pub}\n[localhost]:{sshd.port} {host_pub}\n")
    hosts = f"root@127.0.0.1:{sshd.port},root@localhost:{sshd.port}"
    out = tmp_path / "marks"
    flow = tmp_path / "remote.sloth"
    common = (
        "--ssh",
        hosts,
        "--ssh-key",
        str(sshd.client_key),
        "--ssh-known-hosts",
        str(known),
        "--show-output",
    )
    flow.write_text(RUN_FILE.replace("@OUT", str(out)).replace("@CODE", "0"))
    done = _cli(tmp_path, str(flow), *common)
    assert done.returncode == 0, done.stdout + done.stderr
    for host in (f"root@127.0.0.1:{sshd.port}", f"root@localhost:{sshd.port}"):
        assert (
            f"[{host}] root via 127.0.0.1" in done.stdout + done.stderr
        )  # SSH_CONNECTION: set only over SSH
    assert out.read_text() == "first\nfirst\n"  # the task's environment reached both hosts

    flow.write_text(RUN_FILE.replace("@OUT", str(out)).replace("@CODE", "3"))
    done = _cli(tmp_path, str(flow), *common)
    assert done.returncode == 1 and f"exit code 3 on root@127.0.0.1:{sshd.port}" in done.stdout + done.stderr

    # 127.0.0.1 unknown (an entry trusts a key for its name or address): refused there
    known.write_text(f"[localhost]:{sshd.port} {host_pub}\n")
    out.unlink()
    flow.write_text(RUN_FILE.replace("@OUT", str(out)).replace("@CODE", "0"))
    swapped = ("--ssh", f"root@localhost:{sshd.port},root@127.0.0.1:{sshd.port}", *common[2:])
    done = _cli(tmp_path, str(flow), *swapped)
    assert done.returncode == 1 and "accept_new_host_key" in done.stdout + done.stderr
    assert out.read_text() == "first\n"  # ran on the first host, refused on the second
    bad = _cli(tmp_path, str(flow), "--ssh", "nohost")
    assert bad.returncode == 2 and "--ssh expects user@host" in bad.stderr
