"""Child processes for the modules: started in their own session, watched, killed as a group.

`run_process` is what `exec.run` and the CLI wrappers (git, pkg, systemd, docker, infra_test)
share. It runs on the worker thread of a blocking module call, registers the process in the
task's scope (so a cancelled run can kill it) and polls the task's guard: when the task is
stopped (timeout, cancel) the process group is killed and ModuleError is raised.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from typing import NamedTuple

from sloth_engine.durations import format_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox

POLL = 0.03
TERM_GRACE = 0.2
DRAIN_TIMEOUT = 1.0
TIMEOUT_EXIT = 124
NOT_FOUND_EXIT = 127
NOT_EXECUTABLE_EXIT = 126


class Completed(NamedTuple):
    """What a finished command left behind."""

    stdout: str
    stderr: str
    exit_code: int


def run_process(
    sandbox: Sandbox,
    argv: list[str],
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    stdin: str | None = None,
    shell: bool = False,
) -> Completed:
    """Run argv to completion. A missing program is exit 127 (126: not executable) unless
    `shell` (then /bin/sh itself is missing: OSError). On its own `timeout` the group is
    killed and the exit code is 124, with a note on stderr."""
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
    try:
        return _watch(sandbox, proc, timeout, stdin.encode() if stdin is not None else None)
    finally:
        with scope.lock:
            scope.processes.discard(proc)


def _watch(
    sandbox: Sandbox, proc: subprocess.Popen[bytes], timeout: float | None, pending: bytes | None
) -> Completed:
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        try:
            out, err = proc.communicate(input=pending, timeout=POLL)
            return Completed(_text(out), _text(err), proc.returncode)
        except subprocess.TimeoutExpired:
            pending = None  # communicate() keeps feeding what it was given first
        reason = sandbox.guard.check()
        if reason is not None:
            kill_group(proc)
            drain(proc)
            raise ModuleError(reason)
        if deadline is not None and time.monotonic() > deadline:
            kill_group(proc)
            out, err = drain(proc)
            note = f"command timed out after {format_duration(timeout or 0)}"
            stderr = _text(err)
            if stderr and not stderr.endswith("\n"):
                stderr += "\n"
            return Completed(_text(out), stderr + note, TIMEOUT_EXIT)


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


def drain(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Collect what is left after a kill; give up if an escaped grandchild keeps a pipe."""
    try:
        return proc.communicate(timeout=DRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return b"", b""


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", "replace")


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
