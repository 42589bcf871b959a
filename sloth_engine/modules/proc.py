"""Child processes for the modules: started in their own session, watched, killed as a group.

`run_process` is what `exec.run` and the CLI wrappers (git, pkg, systemd, docker, infra_test)
share. It runs on the worker thread of a blocking module call, registers the process in the
task's scope (so a cancelled run can kill it) and polls the task's guard: when the task is
stopped (timeout, cancel) the process group is killed and ModuleError is raised.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import threading
import time
from typing import IO, NamedTuple, cast

from sloth_engine.durations import format_duration
from sloth_engine.lua.limits import MAX_READ_BYTES
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.task_groups import TASK_GROUPS

POLL = 0.03
TERM_GRACE = 0.2
DRAIN_TIMEOUT = 1.0
CHUNK = 256 * 1024
TIMEOUT_EXIT = 124
NOT_FOUND_EXIT = 127
NOT_EXECUTABLE_EXIT = 126


class Completed(NamedTuple):
    """What a finished command left behind."""

    stdout: str
    stderr: str
    exit_code: int
    truncated: bool = False
    """A stream wrote more than the bound: only its first bytes are kept."""


def run_process(
    sandbox: Sandbox,
    argv: list[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    stdin: str | None = None,
    shell: bool = False,
    max_output: int = MAX_READ_BYTES,
) -> Completed:
    """Run argv to completion. A missing program is exit 127 (126: not executable) unless
    `shell` (then /bin/sh itself is missing: OSError). On its own `timeout` the group is
    killed and the exit code is 124, with a note on stderr. Each stream keeps its first
    `max_output` bytes; the rest is read and dropped (`truncated`)."""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        if shell:
            raise
        return Completed("", f"command not found: {argv[0]}", NOT_FOUND_EXIT)
    except PermissionError:
        if shell:
            raise
        return Completed("", f"permission denied: {argv[0]}", NOT_EXECUTABLE_EXIT)
    scope = sandbox.scope
    with scope.lock:
        scope.processes.add(proc)
    TASK_GROUPS.started(proc.pid)
    try:
        streams = Streams(proc, stdin.encode() if stdin is not None else None, max_output)
        return _watch(sandbox, proc, timeout, streams)
    finally:
        TASK_GROUPS.ended(proc.pid)
        with scope.lock:
            scope.processes.discard(proc)


class _Capture(threading.Thread):
    """Reads one pipe to its end, keeping the first `limit` bytes."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        super().__init__(daemon=True, name="sloth-capture")
        self.pipe, self.limit = cast(io.BufferedReader, pipe), limit  # Popen pipes are buffered
        self.kept: list[bytes] = []
        self.size = 0
        self.dropped = 0

    def run(self) -> None:
        try:
            while chunk := self.pipe.read1(CHUNK):
                room = self.limit - self.size
                if room > 0:
                    self.kept.append(chunk[:room])
                    self.size += min(room, len(chunk))
                self.dropped += max(0, len(chunk) - max(room, 0))
        except (OSError, ValueError):
            pass  # the pipe was closed under us: an escaped grandchild kept it open

    def text(self) -> str:
        return b"".join(self.kept).decode("utf-8", "replace")


class Streams:
    """The output of a running command, captured by threads, bounded per stream."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes | None, limit: int) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.out = _Capture(proc.stdout, limit)
        self.err = _Capture(proc.stderr, limit)
        self.out.start()
        self.err.start()
        if stdin is not None and proc.stdin is not None:
            threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()

    def finish(self, exit_code: int, note: str = "") -> Completed:
        """Wait for the pipes to close; give up if an escaped grandchild keeps one."""
        for capture in (self.out, self.err):
            capture.join(DRAIN_TIMEOUT)
            if capture.is_alive():
                with contextlib.suppress(OSError):
                    capture.pipe.close()
                capture.join(DRAIN_TIMEOUT)
        stderr = self.err.text()
        if note:
            stderr += ("" if not stderr or stderr.endswith("\n") else "\n") + note
        truncated = bool(self.out.dropped or self.err.dropped)
        return Completed(self.out.text(), stderr, exit_code, truncated)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError, ValueError):
        pipe.write(data)
    with contextlib.suppress(OSError, ValueError):
        pipe.close()


def _watch(
    sandbox: Sandbox, proc: subprocess.Popen[bytes], timeout: float | None, streams: Streams
) -> Completed:
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        try:
            proc.wait(timeout=POLL)
            return streams.finish(proc.returncode)
        except subprocess.TimeoutExpired:
            pass
        reason = sandbox.guard.check()
        if reason is not None:
            kill_group(proc)
            streams.finish(-9)
            raise ModuleError(reason)
        if deadline is not None and time.monotonic() > deadline:
            kill_group(proc)
            return streams.finish(TIMEOUT_EXIT, f"command timed out after {format_duration(timeout or 0)}")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, wait briefly, then SIGKILL whatever is left."""
    for sig, grace in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        if grace is not None:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass


def find_tool(name: str, module: str) -> str:
    """The full path of a command-line tool, or a ModuleError naming it (and the module)."""
    path = shutil.which(name)
    if path is None:
        raise ModuleError(f"{module}: '{name}' is not installed on this machine (not found on PATH)")
    return path


def describe(argv: list[str]) -> str:
    """argv as one line for messages: the program's name, no quoting (it is for people)."""
    return " ".join([os.path.basename(argv[0]), *argv[1:]]) if argv else ""


def failure(module: str, argv: list[str], done: Completed) -> ModuleError:
    """The error of a command that failed: the command, its exit code and its last words."""
    said = (done.stderr.strip() or done.stdout.strip()).splitlines()[-5:]
    detail = ": " + " / ".join(said) if said else ""
    return ModuleError(f"{module}: `{describe(argv)}` failed (exit {done.exit_code}){detail}")
