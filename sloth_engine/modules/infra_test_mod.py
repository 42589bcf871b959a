"""`infra_test`: assertions about this machine, in the manner of Testinfra.

Each function returns true when the check holds and otherwise raises a Lua error that fails
the task, saying what was expected and what was found:
`infra_test.file_mode: /etc/app.conf: expected mode 0640, found 0644`.
Arguments are positional as in the original (`infra_test.file_contains(path, pattern)`) or one
table (`infra_test.file_contains({path = p, pattern = "x"})`).

- files: `file_exists(path)`, `is_file`, `is_directory`, `file_contains(path, pattern)` (a
  regular expression, or plain text when it is not a valid one), `file_mode(path, mode)`,
  `file_owner(path, user)`, `file_group(path, group)`, `file_size(path, bytes)`
- network: `port_is_listening(port[, host])` / `port_is_tcp(port)` (a TCP socket in LISTEN
  state on this machine), `port_is_udp(port)`, `can_connect(host, port[, timeout_ms])`,
  `http_status(url[, status])` (default 200)
- services and processes: `service_is_running(name)` / `service_is_enabled(name)`
  (systemctl), `process_is_running(pattern)` (a regular expression searched in each
  process's command line and in its name), `process_count(pattern, count)`
- commands (through /bin/sh, in the task's workdir): `command_succeeds(cmd)`,
  `command_fails(cmd)`, `command_stdout_contains(cmd, pattern)`,
  `command_stderr_is_empty(cmd)`, `command_output_equals(cmd, text)` (trailing newlines
  ignored)
- packages: `package_is_installed(name)`, `package_version(name, prefix)` (dpkg, rpm, apk,
  pacman: whichever is here)

The original's last `target` argument (an agent name) is refused: delegate the whole task
to that agent instead (`delegate_to`).
"""

from __future__ import annotations

import os
import re
import socket
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, icmp_ping
from sloth_engine.modules.http_client import Request, send
from sloth_engine.modules.options import (
    environment,
    file_mode,
    gather,
    group_name,
    mode_text,
    need,
    user_name,
    workdir_path,
)
from sloth_engine.modules.proc import find_tool, run_process
from sloth_engine.modules.system_packages import installed_version
from sloth_engine.modules.systemd_mod import unit_name

LOCAL_TARGETS = (None, "", "local", "localhost")


def _fail(name: str, message: str) -> ModuleError:
    return ModuleError(f"infra_test.{name}: {message}")


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error:
        return re.compile(re.escape(text))


def _clip(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Checks:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def args(self, name: str, args: tuple[Any, ...], names: tuple[str, ...]) -> dict[str, Any]:
        opts = gather(f"infra_test.{name}", args, (*names, "target"))
        target = opts.get("target", opts.get("delegate_to"))
        if target not in LOCAL_TARGETS:
            raise _fail(
                name,
                f"checking on another machine ({target}) is not supported here: "
                "delegate the task to that agent (delegate_to) instead",
            )
        return opts

    def path(self, name: str, opts: dict[str, Any]) -> str:
        return workdir_path(self.sandbox, need(f"infra_test.{name}", opts, "path"))

    # ---- files ------------------------------------------------------------------------------

    def file_exists(self, *args: Any) -> bool:
        path = self.path("file_exists", self.args("file_exists", args, ("path",)))
        if not os.path.lexists(path):
            raise _fail("file_exists", f"expected {path} to exist, found nothing there")
        return True

    def is_file(self, *args: Any) -> bool:
        path = self.path("is_file", self.args("is_file", args, ("path",)))
        if not os.path.isfile(path):
            raise _fail("is_file", f"expected {path} to be a regular file, found {_kind(path)}")
        return True

    def is_directory(self, *args: Any) -> bool:
        path = self.path("is_directory", self.args("is_directory", args, ("path",)))
        if not os.path.isdir(path):
            raise _fail("is_directory", f"expected {path} to be a directory, found {_kind(path)}")
        return True

    def file_contains(self, *args: Any) -> bool:
        opts = self.args("file_contains", args, ("path", "pattern"))
        path = self.path("file_contains", opts)
        pattern = need("infra_test.file_contains", opts, "pattern", "content")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                content = handle.read()
        except OSError as exc:
            raise _fail("file_contains", f"expected {path} to contain {pattern!r}: {exc.strerror}") from None
        if not _pattern(pattern).search(content):
            raise _fail("file_contains", f"expected {path} to contain {pattern!r}, found no match")
        return True

    def file_mode(self, *args: Any) -> bool:
        opts = self.args("file_mode", args, ("path", "mode"))
        path = self.path("file_mode", opts)
        wanted = file_mode("infra_test.file_mode", opts.get("mode"))
        if wanted is None:
            raise _fail("file_mode", "mode is required")
        found = _stat(path, "file_mode").st_mode & 0o7777
        if found != wanted:
            raise _fail("file_mode", f"{path}: expected mode {mode_text(wanted)}, found {mode_text(found)}")
        return True

    def file_owner(self, *args: Any) -> bool:
        opts = self.args("file_owner", args, ("path", "user"))
        path = self.path("file_owner", opts)
        wanted = need("infra_test.file_owner", opts, "user", "owner")
        info = _stat(path, "file_owner")
        if wanted not in (user_name(info.st_uid), str(info.st_uid)):
            raise _fail("file_owner", f"{path}: expected owner {wanted}, found {user_name(info.st_uid)}")
        return True

    def file_group(self, *args: Any) -> bool:
        opts = self.args("file_group", args, ("path", "group"))
        path = self.path("file_group", opts)
        wanted = need("infra_test.file_group", opts, "group")
        info = _stat(path, "file_group")
        if wanted not in (group_name(info.st_gid), str(info.st_gid)):
            raise _fail("file_group", f"{path}: expected group {wanted}, found {group_name(info.st_gid)}")
        return True

    def file_size(self, *args: Any) -> bool:
        opts = self.args("file_size", args, ("path", "size"))
        path = self.path("file_size", opts)
        wanted = int(opts.get("size", opts.get("bytes", -1)))
        found = _stat(path, "file_size").st_size
        if found != wanted:
            raise _fail("file_size", f"{path}: expected {wanted} bytes, found {found}")
        return True

    # ---- network ---------------------------------------------------------------------------

    def port_is_listening(self, *args: Any) -> bool:
        return self._listening("port_is_listening", args, "tcp")

    def port_is_tcp(self, *args: Any) -> bool:
        return self._listening("port_is_tcp", args, "tcp")

    def port_is_udp(self, *args: Any) -> bool:
        return self._listening("port_is_udp", args, "udp")

    def _listening(self, name: str, args: tuple[Any, ...], kind: str) -> bool:
        import psutil

        opts = self.args(name, args, ("port", "host"))
        port = _port(name, opts.get("port"))
        host = opts.get("host")
        bound = []
        for conn in psutil.net_connections(kind=kind):
            if not conn.laddr or conn.laddr.port != port:
                continue
            if kind == "tcp" and conn.status != psutil.CONN_LISTEN:
                continue
            if kind == "udp" and conn.raddr:
                continue
            bound.append(conn.laddr.ip)
        if not bound or (host and not any(ip in (host, "0.0.0.0", "::") for ip in bound)):
            found = f"bound on {', '.join(sorted(set(bound)))}" if bound else "nothing listening"
            where = f"{host}:{port}" if host else f"port {port}"
            raise _fail(name, f"expected a {kind.upper()} listener on {where}, found {found}")
        return True

    def can_connect(self, *args: Any) -> bool:
        opts = self.args("can_connect", args, ("host", "port", "timeout_ms"))
        host = need("infra_test.can_connect", opts, "host")
        port = _port("can_connect", opts.get("port"))
        timeout = float(opts.get("timeout_ms") or 5000) / 1000.0
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
            raise _fail("can_connect", f"expected to connect to {host}:{port}, found: {reason}") from None

    def http_status(self, *args: Any) -> bool:
        opts = self.args("http_status", args, ("url", "status"))
        url = need("infra_test.http_status", opts, "url")
        wanted = int(opts.get("status") or 200)
        response = send(self.sandbox, Request(url=url, timeout=float(opts.get("timeout") or 10)))
        if response.status_code != wanted:
            raise _fail("http_status", f"{url}: expected status {wanted}, found {response.status_code}")
        return True

    # ---- services and processes --------------------------------------------------------------

    def _systemctl(self, name: str, verb: str, args: tuple[Any, ...], wanted: str) -> bool:
        opts = self.args(name, args, ("name",))
        unit = unit_name(need(f"infra_test.{name}", opts, "name", "service"))
        argv = [find_tool("systemctl", f"infra_test.{name}"), verb, unit]
        done = run_process(self.sandbox, argv, env=environment(), timeout=30)
        state = done.stdout.strip() or _clip(done.stderr) or f"exit {done.exit_code}"
        if state != wanted:
            raise _fail(name, f"expected service {unit} to be {wanted}, found {state}")
        return True

    def service_is_running(self, *args: Any) -> bool:
        return self._systemctl("service_is_running", "is-active", args, "active")

    def service_is_enabled(self, *args: Any) -> bool:
        return self._systemctl("service_is_enabled", "is-enabled", args, "enabled")

    def _processes(self, name: str, opts: dict[str, Any]) -> tuple[str, int]:
        import psutil

        text = need(f"infra_test.{name}", opts, "pattern", "name")
        pattern = _pattern(text)
        me = os.getpid()
        count = 0
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.pid == me:
                continue
            name, cmdline = proc.info["name"] or "", " ".join(proc.info["cmdline"] or [])
            if pattern.search(cmdline) or pattern.search(name):
                count += 1
        return text, count

    def process_is_running(self, *args: Any) -> bool:
        text, count = self._processes(
            "process_is_running", self.args("process_is_running", args, ("pattern",))
        )
        if count == 0:
            raise _fail("process_is_running", f"expected a process matching {text!r}, found none")
        return True

    def process_count(self, *args: Any) -> bool:
        opts = self.args("process_count", args, ("pattern", "count"))
        text, count = self._processes("process_count", opts)
        wanted = int(opts.get("count", -1))
        if count != wanted:
            raise _fail("process_count", f"expected {wanted} processes matching {text!r}, found {count}")
        return True

    # ---- commands -------------------------------------------------------------------------------

    def _run(self, name: str, opts: dict[str, Any]) -> tuple[str, Any]:
        cmd = need(f"infra_test.{name}", opts, "cmd", "command")
        cwd = self.sandbox.scope.workdir or os.getcwd()
        done = run_process(self.sandbox, ["/bin/sh", "-c", cmd], cwd=cwd, timeout=300, shell=True)
        return cmd, done

    def command_succeeds(self, *args: Any) -> bool:
        cmd, done = self._run("command_succeeds", self.args("command_succeeds", args, ("cmd",)))
        if done.exit_code != 0:
            said = f": {_clip(done.stderr)}" if done.stderr.strip() else ""
            raise _fail("command_succeeds", f"expected `{cmd}` to exit 0, found exit {done.exit_code}{said}")
        return True

    def command_fails(self, *args: Any) -> bool:
        cmd, done = self._run("command_fails", self.args("command_fails", args, ("cmd",)))
        if done.exit_code == 0:
            raise _fail("command_fails", f"expected `{cmd}` to fail, found exit 0")
        return True

    def command_stdout_contains(self, *args: Any) -> bool:
        opts = self.args("command_stdout_contains", args, ("cmd", "pattern"))
        pattern = need("infra_test.command_stdout_contains", opts, "pattern")
        cmd, done = self._run("command_stdout_contains", opts)
        if not _pattern(pattern).search(done.stdout):
            raise _fail(
                "command_stdout_contains",
                f"expected the output of `{cmd}` to contain {pattern!r}, found {_clip(done.stdout)!r}",
            )
        return True

    def command_stderr_is_empty(self, *args: Any) -> bool:
        cmd, done = self._run("command_stderr_is_empty", self.args("command_stderr_is_empty", args, ("cmd",)))
        if done.stderr.strip():
            raise _fail(
                "command_stderr_is_empty",
                f"expected `{cmd}` to write nothing on stderr, found {_clip(done.stderr)!r}",
            )
        return True

    def command_output_equals(self, *args: Any) -> bool:
        opts = self.args("command_output_equals", args, ("cmd", "expected"))
        wanted = str(opts.get("expected", "")).rstrip("\n")
        cmd, done = self._run("command_output_equals", opts)
        found = done.stdout.rstrip("\n")
        if found != wanted:
            raise _fail(
                "command_output_equals", f"expected `{cmd}` to print {wanted!r}, found {_clip(found)!r}"
            )
        return True

    # ---- packages ---------------------------------------------------------------------------------

    def package_is_installed(self, *args: Any) -> bool:
        opts = self.args("package_is_installed", args, ("name",))
        name = need("infra_test.package_is_installed", opts, "name", "package")
        if installed_version(self.sandbox, name, "infra_test.package_is_installed") is None:
            raise _fail("package_is_installed", f"expected package {name} to be installed, found it absent")
        return True

    def package_version(self, *args: Any) -> bool:
        opts = self.args("package_version", args, ("name", "version"))
        name = need("infra_test.package_version", opts, "name", "package")
        wanted = need("infra_test.package_version", opts, "version")
        found = installed_version(self.sandbox, name, "infra_test.package_version")
        if found is None or not found.startswith(wanted):
            shown = found if found is not None else "not installed"
            raise _fail("package_version", f"expected {name} version {wanted}, found {shown}")
        return True

    def ping(self, host: Any, count: Any = 4, target: Any = None) -> bool:
        """The original's ping(host[, count = 4]): fails unless the host answers an echo."""
        if not isinstance(host, str) or not host:
            raise _fail("ping", "host must be text")
        if target not in (None, "", "local", "localhost"):
            raise _fail("ping", f"target {target!r}: delegate the task to that agent (delegate_to) instead")
        if not icmp_ping.ping(host, int(count)):
            raise _fail("ping", f"failed to ping {host} with {int(count)} packets")
        return True


def _kind(path: str) -> str:
    if not os.path.lexists(path):
        return "nothing"
    if os.path.islink(path):
        return "a symbolic link" if os.path.exists(path) else "a broken symbolic link"
    if os.path.isdir(path):
        return "a directory"
    if os.path.isfile(path):
        return "a regular file"
    return "a special file"


def _stat(path: str, name: str) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise _fail(name, f"{path}: {exc.strerror}") from None


def _port(name: str, value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise _fail(name, f"port must be a number, got {value!r}") from None
    if not 0 < port < 65536:
        raise _fail(name, f"port {port} is out of range")
    return port


HELPERS = frozenset({"args", "path"})


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    checks = Checks(sandbox, env)
    names = [n for n in vars(Checks) if not n.startswith("_") and n not in HELPERS]
    functions = {name: getattr(checks, name) for name in names}
    # They read files, sockets, /proc or run commands: all off the event loop.
    sandbox.set_module("infra_test", functions, blocking=frozenset(functions))
