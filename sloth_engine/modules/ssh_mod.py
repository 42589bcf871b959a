"""`ssh`: remote hosts over SSH (asyncssh), with the original's functions and return values.

    local conn, err = ssh.connect("web1", "deploy", {port = 22, key_path = "~/.ssh/id_ed25519",
        known_hosts = "~/.ssh/known_hosts", accept_new_host_key = false, timeout = 30})
    local ok, res = ssh.exec(conn, "uname -a")    -- res: {stdout, stderr, exit_code, success}
    ssh.upload(conn, "app.tar", "/tmp/app.tar"); ssh.download(conn, "/etc/hostname", "out/h")
    ssh.upload_dir / download_dir (contents of one folder into the other), ssh.exists(conn, p)
    ssh.stat / list_dir -> true, {name, size, mode, is_dir, mod_time}; mkdir (with parents),
    remove (file or empty folder; {recursive = true}), rename, chmod(conn, p, "0644"), chown
    local t = ssh.create_tunnel(conn, {remote_port = 5432})   -- t.local_port; {reverse = true}
    ssh.close_tunnel(t); ssh.enable_agent_forward(conn); ssh.disconnect(conn)
    ssh.load_private_key(path), ssh.generate_keypair{type = "ed25519", path = "id"}
    ssh.add_authorized_key{user = "u", key = "ssh-ed25519 AAAA..."} (and remove_, list_, key_exists)

Methods work too (`conn:exec("ls")`). Failures are `nil`/`false`, message (the original's
convention); a value of the wrong kind is a Lua error. Connections belong to the run's
runtime and close with it; every call is bounded by the task's deadline and cancel. Host keys
are always verified (see ssh_client). Local paths are relative to the task's workdir.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import weakref
from types import ModuleType
from typing import Any

from sloth_engine.lua.limits import MAX_READ_BYTES
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import file_mode, flag, is_check, workdir_path
from sloth_engine.modules.ssh_client import (
    CONNECT_TIMEOUT,
    Connection,
    Connections,
    Target,
    Tunnel,
    known_hosts_path,
    reason,
    stop_remote,
    wait,
)

TIMEOUT_EXIT = 124
CONNECT = "sloth_engine.modules.ssh_connect"
FILES = "sloth_engine.modules.ssh_files"
KEYS = "sloth_engine.modules.ssh_keys"


def _lib(name: str) -> ModuleType:
    """asyncssh and the parts on it, imported on first use: importing asyncssh takes ~0.4 s,
    which a workflow that never connects (or a task with a short timeout) should not pay."""
    return importlib.import_module(name)


def _failures() -> tuple[type[BaseException], ...]:
    return (OSError, _lib("asyncssh").Error, TimeoutError, ValueError)


def _text(where: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ModuleError(f"{where}: {what} must be a non-empty string, got {value!r}")
    return value


def _opts(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModuleError(f"{where}: options must be a table, got {value!r}")
    return value


def _number(where: str, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ModuleError(f"{where}: {what} must be a whole number, got {value!r}")
    return int(value)


async def _bounded(stream: Any, limit: int) -> tuple[bytes, bool]:
    kept, size, dropped = [], 0, False
    while chunk := await stream.read(65536):
        room = limit - size
        if room > 0:
            kept.append(chunk[:room])
            size += min(room, len(chunk))
        dropped = dropped or len(chunk) > room
    return b"".join(kept), dropped


async def _run(conn: Connection, command: str, stdin: str | None, limit: float | None) -> dict[str, Any]:
    process = await conn.raw.create_process(command, encoding=None, stdin=_lib("asyncssh").PIPE)
    try:
        if stdin is not None:
            process.stdin.write(stdin.encode())
        process.stdin.write_eof()
        reading = asyncio.gather(
            _bounded(process.stdout, MAX_READ_BYTES), _bounded(process.stderr, MAX_READ_BYTES)
        )
        note = ""
        try:
            (out, _), (err, _) = await asyncio.wait_for(reading, limit)
            await process.wait_closed()
            code = (
                process.exit_status if process.exit_status is not None and process.exit_status >= 0 else 255
            )
        except TimeoutError:
            out, err, code, note = b"", b"", TIMEOUT_EXIT, f"command timed out after {limit:g}s"
        stderr = err.decode("utf-8", "replace") + note
        return {
            "stdout": out.decode("utf-8", "replace"),
            "stderr": stderr,
            "exit_code": code,
            "success": code == 0,
        }
    finally:
        stop_remote(process)


class Ssh:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox, self.env = sandbox, env
        self.connections = Connections()
        weakref.finalize(sandbox, self.connections.close_all)

    def call(self, coro: Any) -> Any:
        return wait(self.sandbox, coro)

    def _target(self, host: Any, user: Any, opts: dict[str, Any]) -> Target:
        where = "ssh.connect"
        target = Target(_text(where, host, "host"), _text(where, user, "user"))
        target.port = _number(where, opts.get("port", 22), "port")
        target.timeout = float(opts.get("timeout") or CONNECT_TIMEOUT)
        target.known_hosts = known_hosts_path(opts.get("known_hosts"))
        target.accept_new = flag(opts, "accept_new_host_key")
        target.agent_forward = flag(opts, "agent_forward")
        if opts.get("password") is not None:
            target.password = str(opts["password"])
        if opts.get("agent_path"):
            target.agent_path = workdir_path(self.sandbox, opts["agent_path"])
        passphrase = opts.get("passphrase")
        try:
            if opts.get("key_path"):
                path = workdir_path(self.sandbox, opts["key_path"])
                target.client_keys = [_lib("asyncssh").read_private_key(path, passphrase)]
            elif opts.get("key"):
                target.client_keys = [_lib("asyncssh").import_private_key(str(opts["key"]), passphrase)]
        except (OSError, _lib("asyncssh").KeyImportError) as exc:
            raise ValueError(f"failed to read key: {reason(exc)}") from None
        return target

    def connect(self, host: Any, user: Any, options: Any = None) -> Any:
        opts = _opts("ssh.connect", options)
        try:
            target = self._target(host, user, opts)
            raw = self.call(_lib(CONNECT).open_connection(target))
        except _failures() as exc:
            return None, f"failed to connect: {reason(exc)}"
        ident = self.connections.next_id("ssh")
        self.connections.items[ident] = Connection(ident, target, raw)
        return ident

    def disconnect(self, handle: Any) -> Any:
        conn = self.connections.get("ssh.disconnect", handle)
        self.connections.items.pop(conn.ident, None)
        try:
            self.call(conn.close())
        except _failures() as exc:
            return False, f"failed to disconnect: {reason(exc)}"
        return True

    def exec(self, handle: Any, command: Any, options: Any = None) -> Any:
        conn = self.connections.get("ssh.exec", handle)
        command = _text("ssh.exec", command, "command")
        opts = _opts("ssh.exec", options)
        stdin = None if opts.get("stdin") is None else str(opts["stdin"])
        limit = float(opts["timeout"]) if opts.get("timeout") else None
        try:
            return True, self.call(_run(conn, command, stdin, limit))
        except _failures() as exc:
            return None, f"failed to execute: {reason(exc)}"

    def transfer(self, name: str, handle: Any, first: Any, second: Any) -> Any:
        where = f"ssh.{name}"
        conn = self.connections.get(where, handle)
        first, second = _text(where, first, "the source path"), _text(where, second, "the destination path")
        if name in ("upload", "upload_dir"):
            first = workdir_path(self.sandbox, first)
        else:
            second = workdir_path(self.sandbox, second)
        return self.call(getattr(_lib(FILES), name)(conn, first, second))

    def path_op(self, name: str, handle: Any, path: Any, *rest: Any) -> Any:
        where = f"ssh.{name}"
        conn = self.connections.get(where, handle)
        path = _text(where, path, "path")
        if name == "rename":
            return self.call(
                _lib(FILES).rename(conn, path, _text(where, rest[0] if rest else None, "new path"))
            )
        if name == "chmod":
            mode = file_mode(where, rest[0] if rest else None)
            if mode is None:
                raise ModuleError(f"{where}: mode is required")
            return self.call(_lib(FILES).chmod(conn, path, mode))
        if name == "chown":
            uid, gid = (
                _number(where, rest[i] if len(rest) > i else None, w) for i, w in enumerate(("uid", "gid"))
            )
            return self.call(_lib(FILES).chown(conn, path, uid, gid))
        if name == "remove":
            return self.call(
                _lib(FILES).remove(conn, path, flag(_opts(where, rest[0] if rest else None), "recursive"))
            )
        return self.call(getattr(_lib(FILES), name)(conn, path))

    def create_tunnel(self, handle: Any, options: Any = None) -> Any:
        """Local (`-L`) forward by default; `reverse = true`: remote (`-R`)."""
        where = "ssh.create_tunnel"
        conn = self.connections.get(where, handle)
        opts = _opts(where, options)
        local_host = str(opts.get("local_host") or "127.0.0.1")
        remote_host = str(opts.get("remote_host") or "127.0.0.1")
        local_port = _number(where, opts.get("local_port", 0), "local_port")
        remote_port = _number(where, opts.get("remote_port", 0), "remote_port")
        reverse = flag(opts, "reverse")
        if (local_port if reverse else remote_port) == 0:
            raise ModuleError(f"{where}: {'local_port' if reverse else 'remote_port'} is required")
        try:
            if reverse:
                listener = self.call(
                    conn.raw.forward_remote_port(remote_host, remote_port, local_host, local_port)
                )
                remote_port = listener.get_port()
            else:
                listener = self.call(
                    conn.raw.forward_local_port(local_host, local_port, remote_host, remote_port)
                )
                local_port = listener.get_port()
        except _failures() as exc:
            return None, f"failed to create tunnel: {reason(exc)}"
        ident = self.connections.next_id("tunnel")
        info = {
            "id": ident,
            "connection": conn.ident,
            "reverse": reverse,
            "local_host": local_host,
            "local_port": local_port,
            "remote_host": remote_host,
            "remote_port": remote_port,
        }
        conn.tunnels[ident] = Tunnel(ident, listener, info)
        return info

    def close_tunnel(self, handle: Any) -> Any:
        ident = handle.get("id") if isinstance(handle, dict) else handle
        for conn in self.connections.items.values():
            tunnel = conn.tunnels.pop(str(ident), None)
            if tunnel is not None:
                tunnel.listener.close()
                self.call(tunnel.listener.wait_closed())
                return True
        if isinstance(ident, str) and ident.startswith("tunnel-"):
            return False, f"tunnel {ident} is not open"
        raise ModuleError(f"ssh.close_tunnel: expected a tunnel from ssh.create_tunnel, got {handle!r}")

    def enable_agent_forward(self, handle: Any, agent_path: Any = None) -> Any:
        """Agent forwarding is fixed when a connection opens: reconnect with it (same handle)."""
        conn = self.connections.get("ssh.enable_agent_forward", handle)
        path = workdir_path(self.sandbox, agent_path) if agent_path else os.environ.get("SSH_AUTH_SOCK")
        if not path:
            return False, "no SSH agent to forward (SSH_AUTH_SOCK is not set and no agent path given)"
        if conn.tunnels:
            return False, "close the connection's tunnels first (forwarding needs a new connection)"
        target = dataclasses.replace(conn.target, agent_forward=True, agent_path=path)
        try:
            raw = self.call(_lib(CONNECT).open_connection(target))
        except _failures() as exc:
            return False, f"failed to reconnect with agent forwarding: {reason(exc)}"
        old = Connection(conn.ident, conn.target, conn.raw, conn.sftp, opening=conn.opening)
        conn.raw, conn.sftp, conn.opening, conn.target = raw, None, None, target
        self.call(old.close())
        return True

    def authorized(self, action: str, options: Any) -> Any:
        where = f"ssh.{action}"
        opts = _opts(where, options)
        try:
            keys = _lib(KEYS).AuthorizedKeys(where, opts, needs_key=action != "list_authorized_keys")
            if action == "list_authorized_keys":
                return keys.keys(), None
            if action == "key_exists":
                return keys.has(), None
            check = is_check(self.env, opts)
            if action == "add_authorized_key":
                return keys.add(str(opts["comment"]) if opts.get("comment") else None, check)
            return keys.remove(check)
        except OSError as exc:
            return (None if action == "list_authorized_keys" else False), f"{where}: {reason(exc)}"

    def load_private_key(self, path: Any, passphrase: Any = None) -> Any:
        return _lib(KEYS).load_private_key(workdir_path(self.sandbox, path), passphrase)

    def generate_keypair(self, options: Any = None) -> Any:
        opts = _opts("ssh.generate_keypair", options)
        path = workdir_path(self.sandbox, opts["path"]) if opts.get("path") else None
        try:
            return _lib(KEYS).generate_keypair(opts, path)
        except OSError as exc:
            return None, f"failed to write the key pair: {reason(exc)}"


CONN_FUNCTIONS = (
    "disconnect",
    "exec",
    "upload",
    "download",
    "upload_dir",
    "download_dir",
    "exists",
    "stat",
    "mkdir",
    "remove",
    "rename",
    "chmod",
    "chown",
    "list_dir",
    "create_tunnel",
    "enable_agent_forward",
)

_GLUE = r"""
local py, names = ...
local setmetatable, type, ipairs = setmetatable, type, ipairs
local M = {}
local conn_mt = {}
conn_mt.__index = conn_mt
local function id_of(c) if type(c) == "table" and c.id ~= nil then return c.id end return c end
function M.connect(host, user, opts)
  local id, err = py.connect(host, user, opts)
  if not id then return nil, err end
  return setmetatable({id = id, host = host, user = user}, conn_mt)
end
for _, name in ipairs(names) do
  local fn = py[name]
  M[name] = function(c, ...) return fn(id_of(c), ...) end
  conn_mt[name] = M[name]
end
function M.close_tunnel(t) return py.close_tunnel(id_of(t)) end
for _, name in ipairs({"load_private_key", "generate_keypair", "add_authorized_key",
    "remove_authorized_key", "list_authorized_keys", "key_exists"}) do
  M[name] = py[name]
end
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    ssh = Ssh(sandbox, env)
    functions: dict[str, Any] = {
        "connect": ssh.connect,
        "disconnect": ssh.disconnect,
        "exec": ssh.exec,
        "create_tunnel": ssh.create_tunnel,
        "close_tunnel": ssh.close_tunnel,
        "enable_agent_forward": ssh.enable_agent_forward,
        "load_private_key": ssh.load_private_key,
        "generate_keypair": ssh.generate_keypair,
    }
    for name in ("upload", "download", "upload_dir", "download_dir"):
        functions[name] = lambda h=None, a=None, b=None, _n=name: ssh.transfer(_n, h, a, b)
    for name in ("exists", "stat", "mkdir", "remove", "rename", "chmod", "chown", "list_dir"):
        functions[name] = lambda h=None, p=None, *rest, _n=name: ssh.path_op(_n, h, p, *rest)
    for name in ("add_authorized_key", "remove_authorized_key", "list_authorized_keys", "key_exists"):
        functions[name] = lambda o=None, _n=name: ssh.authorized(_n, o)
    local = {"load_private_key"}  # reads one small local file: no wait worth a thread
    py = sandbox.lua.table_from(
        {k: sandbox.function(v, blocking=k not in local) for k, v in functions.items()}
    )
    sandbox.globals()["ssh"] = sandbox.run_lua(_GLUE, "ssh", py, sandbox.lua.table_from(CONN_FUNCTIONS))
