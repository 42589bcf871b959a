"""Starting child processes: the one place the project calls Popen.

Every child starts the same way: its own process group (a session of its own, so a Ctrl-C of
the terminal is not for it and a kill reaches its whole tree), stdin closed unless asked for,
the environment given whole or inherited, and optionally the kernel's parent-death signal
(Linux) so it cannot outlive the process that started it. `start` is for a worker thread,
`start_async` for the event loop; `run` starts, waits with a deadline, and keeps a bounded
part of each output stream.

Task shell commands (executor/shell.py) follow their own pipes line by line on a worker
thread; they start through `start` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any, NamedTuple, cast

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT
TIMEOUT_EXIT = 124
"""Exit code of a command stopped at its deadline (as timeout(1) says)."""
TERM_GRACE = 0.2
POLL = 0.03
DRAIN_TIMEOUT = 1.0
CHUNK = 256 * 1024
PR_SET_PDEATHSIG = 1

Stream = int | IO[Any] | None
"""PIPE, DEVNULL, STDOUT (stderr only), an open file, or None (inherit)."""


def start(
    argv: list[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
    stdin: Stream = DEVNULL,
    stdout: Stream = PIPE,
    stderr: Stream = PIPE,
    new_group: bool = True,
    die_with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start argv (blocking: fork and exec; call it on a worker thread where the loop matters).

    Raises what Popen raises: FileNotFoundError, PermissionError, OSError, ValueError."""
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=env,
        user=user,
        start_new_session=new_group,
        preexec_fn=pdeathsig_setter() if die_with_parent else None,  # noqa: PLW1509 - only prctl
    )


async def start_async(
    argv: list[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    stdin: Stream = DEVNULL,
    stdout: Stream = PIPE,
    stderr: Stream = PIPE,
    new_group: bool = True,
    limit: int = 2**16,
) -> asyncio.subprocess.Process:
    """`start` for the event loop: an asyncio process with stream readers (`limit`: the
    longest line `readline` returns)."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=env,
        start_new_session=new_group,
        limit=limit,
    )


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when it is gone (or not ours)."""
    try:
        os.killpg(pgid, sig)
    except OSError:  # gone, not ours
        return False
    return True


def kill_group(proc: subprocess.Popen[bytes], grace: float = TERM_GRACE) -> None:
    """SIGTERM the process's group, wait `grace` seconds, then SIGKILL whatever is left."""
    signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    signal_group(proc.pid, signal.SIGKILL)


def pdeathsig_setter(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec_fn for Popen that asks for `sig` when the parent dies; None off Linux.

    libc is loaded here, in the parent: between fork and exec the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: ctypes costs every process ~2 ms of start-up, and few children need it
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nobody will signal
            os.kill(os.getpid(), sig)

    return set_pdeathsig


class Completed(NamedTuple):
    """What a finished command left behind."""

    stdout: str
    stderr: str
    exit_code: int
    truncated: bool = False
    """A stream wrote more than the bound: only its first bytes are kept."""
    timed_out: bool = False
    """Stopped at its deadline (exit code 124)."""


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


def follow(
    proc: subprocess.Popen[bytes],
    streams: Streams,
    timeout: float | None,
    timeout_note: Callable[[float], str],
    stop: Callable[[], str | None] | None = None,
) -> tuple[Completed, str | None]:
    """Wait for the process: to its end, its deadline (its group killed, exit 124 with
    `timeout_note(timeout)` on stderr) or until `stop()` gives a reason (killed, returned)."""
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        try:
            proc.wait(timeout=POLL)
            return streams.finish(proc.returncode), None
        except subprocess.TimeoutExpired:
            pass
        reason = stop() if stop is not None else None
        if reason is not None:
            kill_group(proc)
            return streams.finish(-9), reason
        if deadline is not None and time.monotonic() > deadline:
            kill_group(proc)
            done = streams.finish(TIMEOUT_EXIT, timeout_note(timeout or 0))
            return done._replace(timed_out=True), None


def run(
    argv: list[str],
    *,
    timeout: float,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    max_output: int = 1024 * 1024,
) -> Completed:
    """Run argv to its end or its deadline (then its group is killed: exit 124, a note on
    stderr); each stream keeps its first `max_output` bytes. Raises OSError when it cannot
    start (FileNotFoundError: no such program or folder)."""
    proc = start(argv, cwd=cwd, env=env, stdin=PIPE if stdin is not None else DEVNULL)
    streams = Streams(proc, stdin, max_output)
    done, _ = follow(proc, streams, timeout, lambda s: f"timed out after {s:g}s")
    return done
