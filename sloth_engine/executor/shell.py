"""Run a shell command as a task attempt: own process group, live lines, timeout, kill.

A command with no shell syntax is executed directly (as make does), which saves starting
a shell per task; anything else goes through `/bin/sh -c`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
from collections.abc import Callable
from dataclasses import dataclass

from sloth_engine.spec import TaskStatus

from .results import AttemptOutcome

MAX_OUTPUT_BYTES = 1024 * 1024
"""Output kept per stream and attempt; the rest is dropped with a marker line."""
MAX_LINE_BYTES = 64 * 1024
"""Longer lines are cut, with a marker."""
KILL_GRACE = 2.0
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\"'*?\[\]#~=%{}\n!]")

LineSink = Callable[[str, str], None]


@dataclass
class ShellCommand:
    command: str
    cwd: str | None = None
    env: dict[str, str] | None = None
    user: str | None = None
    timeout: float | None = None
    groups: set[int] | None = None
    """Where the running process group is registered, so a last-resort exit can kill it."""


def argv_for(command: str) -> list[str]:
    """Direct argv when the command is plain words, else a shell invocation."""
    if not _SHELL_SYNTAX.search(command):
        words = shlex.split(command)
        if words:
            return words
    return ["/bin/sh", "-c", command]


async def run_shell(cmd: ShellCommand, sink: LineSink) -> AttemptOutcome:
    """Run the command to its end, its timeout or a cancel (which kills its process group)."""
    env = None
    if cmd.env:
        env = {**os.environ, **cmd.env}
    argv = argv_for(cmd.command)
    try:
        try:
            proc = await _spawn(argv, cmd, env)
        except FileNotFoundError:
            if argv[0] == "/bin/sh" or (cmd.cwd and not os.path.isdir(cmd.cwd)):
                raise
            # Not a program: a shell builtin such as `exit` or `cd`; the shell knows it.
            proc = await _spawn(["/bin/sh", "-c", cmd.command], cmd, env)
    except FileNotFoundError as exc:
        if cmd.cwd and not os.path.isdir(cmd.cwd):
            return _failed(f"workdir {cmd.cwd} does not exist", 127)
        return _failed(f"command not found: {exc.filename or argv[0]}", 127)
    except PermissionError as exc:
        return _failed(f"cannot run command: {exc.strerror}", 126)
    except OSError as exc:
        return _failed(f"cannot start command: {exc}", 126)
    if cmd.groups is not None:
        cmd.groups.add(proc.pid)
    try:
        return await _follow(proc, cmd, sink)
    finally:
        if cmd.groups is not None:
            cmd.groups.discard(proc.pid)


async def _follow(proc: asyncio.subprocess.Process, cmd: ShellCommand, sink: LineSink) -> AttemptOutcome:
    captured: dict[str, list[str]] = {"stdout": [], "stderr": []}
    readers = asyncio.gather(
        _pump(proc.stdout, "stdout", sink, captured["stdout"]),
        _pump(proc.stderr, "stderr", sink, captured["stderr"]),
    )
    try:
        async with asyncio.timeout(cmd.timeout):
            await readers
            code = await proc.wait()
    except TimeoutError:
        await kill_group(proc)
        readers.cancel()
        return AttemptOutcome(
            TaskStatus.TIMED_OUT,
            message=f"timed out after {cmd.timeout:g}s",
            error=f"timed out after {cmd.timeout:g}s",
            outputs=_outputs(captured, None),
        )
    except asyncio.CancelledError:
        await kill_group(proc)
        readers.cancel()
        raise
    outputs = _outputs(captured, code)
    if code == 0:
        return AttemptOutcome(TaskStatus.SUCCESS, message="exit code 0", outputs=outputs, exit_code=0)
    tail = "\n".join(captured["stderr"][-5:]).strip()
    reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return AttemptOutcome(
        TaskStatus.FAILED,
        message=reason,
        error=f"{reason}: {tail}" if tail else reason,
        outputs=outputs,
        exit_code=code,
    )


async def _spawn(
    argv: list[str], cmd: ShellCommand, env: dict[str, str] | None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cmd.cwd,
        env=env,
        user=cmd.user,
        start_new_session=True,
        limit=MAX_LINE_BYTES,
    )


async def _pump(stream: asyncio.StreamReader | None, name: str, sink: LineSink, keep: list[str]) -> None:
    if stream is None:
        return
    kept = 0
    while True:
        try:
            raw = await stream.readline()
        except ValueError:
            # A line over the limit: take what is buffered and mark the cut.
            raw = await stream.read(MAX_LINE_BYTES)
            raw = raw + b" [line truncated]\n"
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if kept < MAX_OUTPUT_BYTES:
            kept += len(raw)
            if kept >= MAX_OUTPUT_BYTES:
                line = "[output truncated: over 1 MiB]"
            keep.append(line)
            sink(name, line)


def _outputs(captured: dict[str, list[str]], code: int | None) -> dict[str, object]:
    stdout = "\n".join(captured["stdout"])
    return {"exit_code": code, "stdout": stdout[:65536]}


def _failed(message: str, code: int) -> AttemptOutcome:
    return AttemptOutcome(TaskStatus.FAILED, message=message, error=message, exit_code=code)


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the process group, then SIGKILL what is left after a grace period."""
    if proc.returncode is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE)
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), KILL_GRACE)
