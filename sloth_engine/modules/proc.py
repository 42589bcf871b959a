"""Child processes for the modules: started in their own session, watched, killed as a group.

`run_process` is what `exec.run` and the CLI wrappers (git, pkg, systemd, docker, infra_test)
share. It runs on the worker thread of a blocking module call, starts the process through
sloth_engine.process, registers it in the task's scope (so a cancelled run can kill it) and
polls the task's guard: when the task is stopped (timeout, cancel) the process group is
killed and ModuleError is raised.
"""

from __future__ import annotations

import os
import shutil

from sloth_engine import process
from sloth_engine.durations import format_duration
from sloth_engine.lua.limits import MAX_READ_BYTES
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.process import TIMEOUT_EXIT, Completed, Streams
from sloth_engine.task_groups import TASK_GROUPS

NOT_FOUND_EXIT = 127
NOT_EXECUTABLE_EXIT = 126
__all__ = ["TIMEOUT_EXIT", "Completed", "describe", "failure", "find_tool", "run_process"]


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
        proc = process.start(
            argv, cwd=cwd, env=env, stdin=process.PIPE if stdin is not None else process.DEVNULL
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
        done, stopped = process.follow(proc, streams, timeout, _timeout_note, sandbox.guard.check)
        if stopped is not None:
            raise ModuleError(stopped)
        return done
    finally:
        TASK_GROUPS.ended(proc.pid)
        with scope.lock:
            scope.processes.discard(proc)


def _timeout_note(seconds: float) -> str:
    return f"command timed out after {format_duration(seconds)}"


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
