"""`run FILE --ssh user@host[,...]`: each task's shell command runs on each host over SSH.

Semantics (the original's way of running a workflow on hosts with no agent):
- a task whose `command` is a shell string runs it on every host, one host after the other in
  the order given; each output line is prefixed with `[user@host]`; the attempt fails at the
  first host where the command fails (later hosts are not tried), saying which host;
- the command runs in the SSH user's home folder on the host (the local workdir means nothing
  there), with the task's environment exported first; the task's timeout and a cancel close
  the remote command's channel;
- tasks written as Lua functions, conditions and hooks run on this machine (use the `ssh`
  module inside them to reach hosts);
- one connection per host is opened on first use and kept for the run; host keys are verified
  against known_hosts (`--ssh-known-hosts`, default ~/.ssh/known_hosts), a new host accepted
  only with `--ssh-accept-new-host-key`.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from sloth_engine.modules.ssh_client import Target, known_hosts_path, reason, ssh_loop, stop_remote
from sloth_engine.spec import TaskStatus

from .results import AttemptOutcome
from .shell import LineSink, ShellCommand

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_hosts(text: str) -> list[tuple[str, str, int]]:
    """`user@host[:port],...` as (user, host, port); ValueError says which entry is wrong."""
    hosts = []
    for item in (part.strip() for part in text.split(",")):
        user, at, rest = item.partition("@")
        host, colon, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
        if not at or not user or not host or (colon and not port.isdigit()):
            raise ValueError(f"--ssh expects user@host[:port][,...], got '{item}'")
        hosts.append((user, host, int(port) if colon else 22))
    return hosts


@dataclass
class SshHosts:
    """The hosts of a run and their open connections (on the SSH loop)."""

    targets: list[Target]
    connections: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, text: str, key_path: str | None, known_hosts: str | None, accept_new: bool) -> SshHosts:
        asyncssh = importlib.import_module("asyncssh")
        keys = [asyncssh.read_private_key(key_path)] if key_path else None
        targets = [
            Target(
                host,
                user,
                port,
                client_keys=keys,
                known_hosts=known_hosts_path(known_hosts),
                accept_new=accept_new,
            )
            for user, host, port in parse_hosts(text)
        ]
        return cls(targets)

    async def _on_ssh_loop(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, ssh_loop())
        try:
            return await asyncio.wrap_future(future)
        finally:
            future.cancel()  # a cancelled task: the remote command's channel is closed

    async def run(self, cmd: ShellCommand, sink: LineSink) -> AttemptOutcome:
        for target in self.targets:
            name = f"{target.user}@{target.host}"
            if target.port != 22:
                name += f":{target.port}"
            try:
                code = await asyncio.wait_for(
                    self._on_ssh_loop(self._one(target, cmd, sink, name)), cmd.timeout
                )
            except TimeoutError:
                text = f"timed out after {cmd.timeout:g}s on {name}"
                return AttemptOutcome(TaskStatus.TIMED_OUT, text, text)
            except (OSError, ValueError, importlib.import_module("asyncssh").Error) as exc:
                text = f"{name}: {reason(exc)}"
                return AttemptOutcome(TaskStatus.FAILED, text, text)
            if code != 0:
                text = f"exit code {code} on {name}"
                return AttemptOutcome(TaskStatus.FAILED, text, text, exit_code=code)
        return AttemptOutcome(TaskStatus.SUCCESS, exit_code=0)

    async def _one(self, target: Target, cmd: ShellCommand, sink: LineSink, name: str) -> int:
        connect = importlib.import_module("sloth_engine.modules.ssh_connect")
        conn = self.connections.get(name)
        if conn is None:
            conn = self.connections[name] = await connect.open_connection(target)
        for key in cmd.env or {}:
            if not _NAME.fullmatch(key):
                raise ValueError(f"environment variable name {key!r} cannot be exported over SSH")
        exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in (cmd.env or {}).items())
        process = await conn.create_process(
            exports + cmd.command, stdin=importlib.import_module("asyncssh").DEVNULL
        )
        try:

            async def pump(stream: Any, kind: str) -> None:
                async for line in stream:
                    sink(kind, f"[{name}] {line.rstrip(chr(10))}")

            await asyncio.gather(pump(process.stdout, "stdout"), pump(process.stderr, "stderr"))
            await process.wait_closed()
            status = process.exit_status
            return status if status is not None and status >= 0 else 255
        finally:
            stop_remote(process)

    def close(self) -> None:
        for conn in self.connections.values():
            ssh_loop().call_soon_threadsafe(conn.close)
        self.connections.clear()
