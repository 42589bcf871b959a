"""Run a shell command as a task attempt: own process group, live lines, timeout, kill.

A command with no shell syntax is executed directly (as make does), which saves starting
a shell per task; anything else goes through `/bin/sh -c`. The process is started and
followed on a worker thread (fork, exec and pipe reads never hold the event loop, and no
child watcher is needed); a cancel from the loop kills its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from sloth_engine.process import signal_group, start
from sloth_engine.spec import TaskStatus
from sloth_engine.task_groups import TASK_GROUPS

from .results import AttemptOutcome

MAX_OUTPUT_BYTES = 1024 * 1024
"""Output kept per stream and attempt; the rest is dropped with a marker line."""
MAX_LINE_BYTES = 64 * 1024
"""Longer lines are cut, with a marker."""
KILL_GRACE = 2.0
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\"'*?\[\]#~=%{}\n!]")

LineSink = Callable[[str, str], None]
"""Receives (stream, line); called from the worker thread."""


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


@dataclass
class _Process:
    """The process of one attempt, shared by its worker thread and the loop."""

    proc: subprocess.Popen[bytes] | None = None
    cancelled: bool = False
    captured: dict[str, list[str]] = field(default_factory=lambda: {"stdout": [], "stderr": []})

    def kill(self, sig: int) -> None:
        if self.proc is not None:
            signal_group(self.proc.pid, sig)


async def run_shell(cmd: ShellCommand, sink: LineSink, executor: Executor | None = None) -> AttemptOutcome:
    """Run the command to its end, its timeout or a cancel (which kills its process group)."""
    loop = asyncio.get_running_loop()
    state = _Process()
    future = loop.run_in_executor(executor, _run, cmd, sink, state)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        state.cancelled = True
        state.kill(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(future), KILL_GRACE)
        except TimeoutError:
            state.kill(signal.SIGKILL)
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(future, KILL_GRACE)
        raise


def _run(cmd: ShellCommand, sink: LineSink, state: _Process) -> AttemptOutcome:
    refused = _nul_byte(cmd)
    if refused:
        return _failed(refused, 126)
    env = {**os.environ, **cmd.env} if cmd.env else None
    argv = argv_for(cmd.command)
    try:
        try:
            proc = _spawn(argv, cmd, env)
        except FileNotFoundError:
            if argv[0] == "/bin/sh" or (cmd.cwd and not os.path.isdir(cmd.cwd)):
                raise
            # Not a program: a shell builtin such as `exit` or `cd`; the shell knows it.
            proc = _spawn(["/bin/sh", "-c", cmd.command], cmd, env)
    except FileNotFoundError as exc:
        if cmd.cwd and not os.path.isdir(cmd.cwd):
            return _failed(f"workdir {cmd.cwd} does not exist", 127)
        return _failed(f"command not found: {exc.filename or argv[0]}", 127)
    except PermissionError as exc:
        return _failed(f"cannot run command: {exc.strerror}", 126)
    except (OSError, ValueError) as exc:
        return _failed(f"cannot start command: {exc}", 126)
    state.proc = proc
    if cmd.groups is not None:
        cmd.groups.add(proc.pid)
    TASK_GROUPS.started(proc.pid)
    try:
        if state.cancelled:
            state.kill(signal.SIGKILL)
        return _follow(proc, cmd, sink, state)
    finally:
        TASK_GROUPS.ended(proc.pid)
        if cmd.groups is not None:
            cmd.groups.discard(proc.pid)


def _nul_byte(cmd: ShellCommand) -> str:
    """Why the command cannot be started, when a NUL byte hides in it (exec refuses those)."""
    if "\0" in cmd.command:
        return "the command contains a NUL byte (\\0): it cannot be run"
    for key, value in (cmd.env or {}).items():
        if "\0" in key or "\0" in value:
            return f"environment variable {key.replace(chr(0), '?')} contains a NUL byte (\\0)"
    if cmd.cwd and "\0" in str(cmd.cwd):
        return "the workdir contains a NUL byte (\\0)"
    return ""


def _spawn(argv: list[str], cmd: ShellCommand, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    return start(argv, cwd=cmd.cwd, env=env, user=cmd.user)


def _follow(
    proc: subprocess.Popen[bytes], cmd: ShellCommand, sink: LineSink, state: _Process
) -> AttemptOutcome:
    deadline = None if cmd.timeout is None else time.monotonic() + cmd.timeout
    timed_out = not _pump(proc, deadline, sink, state)
    if timed_out:
        _stop(proc, state)
        text = f"timed out after {cmd.timeout:g}s"
        return AttemptOutcome(TaskStatus.TIMED_OUT, text, text, _outputs(state.captured, None))
    code = proc.wait()
    outputs = _outputs(state.captured, code)
    if code == 0:
        return AttemptOutcome(TaskStatus.SUCCESS, message="exit code 0", outputs=outputs, exit_code=0)
    tail = "\n".join(state.captured["stderr"][-5:]).strip()
    reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return AttemptOutcome(
        TaskStatus.FAILED,
        message=reason,
        error=f"{reason}: {tail}" if tail else reason,
        outputs=outputs,
        exit_code=code,
    )


def _pump(proc: subprocess.Popen[bytes], deadline: float | None, sink: LineSink, state: _Process) -> bool:
    """Read both pipes line by line until they close; False when the deadline passed first."""
    assert proc.stdout is not None and proc.stderr is not None  # started with both piped
    streams = {proc.stdout: "stdout", proc.stderr: "stderr"}
    pending = {"stdout": b"", "stderr": b""}
    kept = {"stdout": 0, "stderr": 0}
    with selectors.DefaultSelector() as selector:
        for pipe in streams:
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            for key, _ in selector.select(wait):
                name = streams[key.fileobj]  # type: ignore[index]
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    if pending[name]:
                        _emit(name, pending[name], sink, state, kept)
                    continue
                *lines, pending[name] = (pending[name] + chunk).split(b"\n")
                for raw in lines:
                    _emit(name, raw, sink, state, kept)
                if len(pending[name]) > MAX_LINE_BYTES:
                    _emit(name, pending[name][:MAX_LINE_BYTES] + b" [line truncated]", sink, state, kept)
                    pending[name] = b""
    for pipe in streams:
        pipe.close()  # type: ignore[union-attr]
    return True


def _emit(name: str, raw: bytes, sink: LineSink, state: _Process, kept: dict[str, int]) -> None:
    if kept[name] >= MAX_OUTPUT_BYTES:
        return
    kept[name] += len(raw) + 1
    line = raw.decode("utf-8", "replace")
    if kept[name] >= MAX_OUTPUT_BYTES:
        line = "[output truncated: over 1 MiB]"
    state.captured[name].append(line)
    sink(name, line)


def _stop(proc: subprocess.Popen[bytes], state: _Process) -> None:
    """SIGTERM the process group, then SIGKILL what is left after a grace period."""
    state.kill(signal.SIGTERM)
    try:
        proc.wait(KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass
    state.kill(signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(KILL_GRACE)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _outputs(captured: dict[str, list[str]], code: int | None) -> dict[str, object]:
    stdout = "\n".join(captured["stdout"])
    return {"exit_code": code, "stdout": stdout[:65536]}


def _failed(message: str, code: int) -> AttemptOutcome:
    return AttemptOutcome(TaskStatus.FAILED, message=message, error=message, exit_code=code)
