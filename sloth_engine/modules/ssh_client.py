"""SSH connections of the `ssh` module: the loop they live on and the runtime's registry.

asyncssh objects belong to the event loop they were made on, and a module call runs on a
worker thread of the task that makes it; so every connection of the process lives on one
private loop in a daemon thread, and a call waits for its coroutine there while polling the
task's guard (a timeout or cancel stops the wait and cancels the coroutine). Host keys:
see ssh_connect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sloth_engine.lua.sandbox import ModuleError, Sandbox

if TYPE_CHECKING:  # asyncssh takes ~0.4 s to import: only when a workflow connects
    import asyncssh

POLL = 0.05
CONNECT_TIMEOUT = 30.0
T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def ssh_loop() -> asyncio.AbstractEventLoop:
    """The process's SSH event loop, started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="sloth-ssh", daemon=True).start()
            _loop = loop
        return _loop


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def wait(sandbox: Sandbox | None, awaitable: Awaitable[T]) -> T:
    """Run it on the SSH loop until it ends or the calling task is stopped (asyncssh's
    forwarding calls give awaitables that are not coroutines: wrapped in one)."""
    future = asyncio.run_coroutine_threadsafe(_awaited(awaitable), ssh_loop())
    while True:
        done, _ = concurrent.futures.wait([future], timeout=POLL)
        if done:
            return future.result()
        reason = sandbox.guard.check() if sandbox is not None else None
        if reason is not None:
            future.cancel()
            raise ModuleError(reason)


def stop_remote(process: Any) -> None:
    """End a remote command that has not exited: a TERM signal (OpenSSH sends it to the
    command's process group), then the channel is closed. Without a terminal SSH sends no
    hangup, so a command that neither reads nor writes would otherwise go on running. OpenSSH
    refuses signals in a root login's session (no privilege separation there): as root, such a
    command runs on until it ends."""
    if process.exit_status is None and process.exit_signal is None:
        try:
            process.terminate()
        except (OSError, RuntimeError):
            pass  # the channel is already closing: nothing left to signal
    process.close()


def known_hosts_path(value: Any) -> str:
    if value is None or value == "":
        return os.path.expanduser("~/.ssh/known_hosts")
    if not isinstance(value, str):
        raise ModuleError(f"known_hosts must be a path, got {value!r}")
    return os.path.expanduser(value)


def host_pattern(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


@dataclass
class Target:
    """Where and how to connect (kept to reconnect with agent forwarding)."""

    host: str
    user: str
    port: int = 22
    password: str | None = None
    client_keys: list[asyncssh.SSHKey] | None = None
    known_hosts: str = ""
    accept_new: bool = False
    timeout: float = CONNECT_TIMEOUT
    agent_path: str | None = None
    agent_forward: bool = False

    def options(self, client: Any) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "client_factory": lambda: client,
            "connect_timeout": self.timeout,
            "known_hosts": self.known_hosts if os.path.exists(self.known_hosts) else ([], [], []),
            "agent_forwarding": self.agent_forward,
        }
        if self.password is not None:
            opts["password"] = self.password
        if self.client_keys is not None:
            opts["client_keys"] = self.client_keys
            opts["agent_path"] = self.agent_path  # keys given: the agent only if named
        elif self.agent_path is not None:
            opts["agent_path"] = self.agent_path
        return opts


@dataclass
class Tunnel:
    ident: str
    listener: asyncssh.SSHListener
    info: dict[str, Any]


@dataclass
class Connection:
    ident: str
    target: Target
    raw: asyncssh.SSHClientConnection
    sftp: asyncssh.SFTPClient | None = None
    tunnels: dict[str, Tunnel] = field(default_factory=dict)

    opening: asyncio.Future[asyncssh.SFTPClient] | None = None

    async def files(self) -> asyncssh.SFTPClient:
        """The connection's SFTP session, opened on first use and kept (tasks sharing the
        connection wait for the same opening; a cancelled caller does not cancel it)."""
        if self.sftp is None:
            if self.opening is None:
                self.opening = asyncio.ensure_future(self.raw.start_sftp_client())
            try:
                self.sftp = await asyncio.shield(self.opening)
            except BaseException:
                if self.opening.done():
                    self.opening = None  # it failed: the next call tries again
                raise
        return self.sftp

    async def close(self) -> None:
        for tunnel in list(self.tunnels.values()):
            tunnel.listener.close()
        self.tunnels.clear()
        if self.sftp is not None:
            self.sftp.exit()
        self.sftp, self.opening = None, None
        self.raw.close()
        await self.raw.wait_closed()


class Connections:
    """The connections of one runtime (closed when the runtime goes)."""

    def __init__(self) -> None:
        self.items: dict[str, Connection] = {}
        self.serial = 0
        self.lock = threading.Lock()

    def next_id(self, kind: str) -> str:
        with self.lock:
            self.serial += 1
            return f"{kind}-{self.serial}"

    def get(self, where: str, handle: Any) -> Connection:
        ident = handle.get("id") if isinstance(handle, dict) else handle
        conn = self.items.get(ident) if isinstance(ident, str) else None
        if conn is None:
            if isinstance(ident, str) and ident.startswith("ssh-"):
                raise ModuleError(f"{where}: the connection {ident} is closed")
            raise ModuleError(f"{where}: expected a connection from ssh.connect, got {handle!r}")
        return conn

    def close_all(self) -> None:
        items, self.items = list(self.items.values()), {}
        if items and _loop is not None and not _loop.is_closed():
            for conn in items:
                asyncio.run_coroutine_threadsafe(_quiet_close(conn), _loop)


async def _quiet_close(conn: Connection) -> None:
    import asyncssh

    try:
        await asyncio.wait_for(conn.close(), 5)
    except (OSError, asyncssh.Error, TimeoutError):
        pass  # the runtime is going away: nothing is left to report to


def reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
