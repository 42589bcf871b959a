"""How a task's pieces run: its command (shell or Lua), its conditions and its hooks.

TaskRunner decides what runs when; TaskCalls runs one piece and says how it went.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.secrets import SECRET_REFUSED
from sloth_engine.spec import LUA_FUNCTION, TaskSpec, TaskStatus, WorkflowSpec

from .journal import Journal
from .lua_pool import LuaCall, LuaPool
from .output_limits import BoundedSink, bounded_text, outputs_error
from .results import AttemptOutcome, TaskResult
from .shell import ShellCommand, run_shell

if TYPE_CHECKING:
    from .ssh_shell import SshHosts

SHELL_THREADS = 64
"""Threads that start and follow shell commands (made as needed, one per running command)."""
WORKFLOW_LOG = "(workflow)"
"""Task name under which output of workflow-level hooks is logged."""
THIS_SOURCE = """
return function(name, workdir)
  local this = { task_name = name }
  this.name = function() return name end
  this.workdir = { get = function() return workdir end }
  return this
end
"""


class TaskCalls:
    def __init__(
        self,
        run_id: str,
        workflow: WorkflowSpec,
        cwd: Path,
        journal: Journal,
        lua: LuaPool | None,
        check_mode: bool = False,
    ) -> None:
        self.check_mode = check_mode
        self.run_id = run_id
        self.cwd = cwd
        self.wf = workflow
        self.journal = journal
        self.lua = lua
        self._shell_threads = ThreadPoolExecutor(SHELL_THREADS, thread_name_prefix="sloth-shell")
        self.process_groups: set[int] = set()
        """Process groups of the shell commands running now."""
        self.ssh_hosts: SshHosts | None = None
        """`run --ssh`: the hosts a task's shell command runs on (None: this machine)."""

    def close(self) -> None:
        self._shell_threads.shutdown(wait=False)

    async def attempt(
        self, spec: TaskSpec, result: TaskResult, cwd: Path, params: dict[str, Any], inputs: dict[str, Any]
    ) -> AttemptOutcome:
        """One attempt of the task's command on this machine: the one way an attempt runs, in a
        local run (TaskRunner) and away from its run (executor/attempt.py: agents, a master's
        host tasks)."""
        if spec.command is None:
            return AttemptOutcome(TaskStatus.SUCCESS, "nothing to do")
        if spec.command != LUA_FUNCTION:
            if self.check_mode:
                return AttemptOutcome(TaskStatus.UNCHANGED, f"check mode: would run `{spec.command}`")
            if self.ssh_hosts is not None:  # `run --ssh`: on each host (executor/ssh_shell.py)
                return await self.ssh_hosts.run(self.shell(spec, spec.command, cwd), self.sink(result))
            return await run_shell(
                self.shell(spec, spec.command, cwd), self.sink(result), self._shell_threads
            )
        try:
            value, timed_out = await self.lua_call(
                spec, "command", result, cwd, (params, inputs), this=not spec.legacy_signature
            )
        except LuaRuntimeError as exc:
            return AttemptOutcome(TaskStatus.FAILED, exc.where, exc.where, final=exc.final)
        if timed_out:
            text = f"timed out after {spec.timeout:g}s"
            return AttemptOutcome(TaskStatus.TIMED_OUT, text, text)
        outcome = interpret(value)
        redactor = self.journal.redactor
        if outcome.outputs and redactor is not None and redactor.finds(outcome.outputs):
            text = f"task outputs: {SECRET_REFUSED}"
            return AttemptOutcome(TaskStatus.FAILED, text, text, {})
        return outcome

    # ---- conditions and hooks -----------------------------------------------------------

    async def condition(
        self,
        spec: TaskSpec,
        field_name: str,
        cwd: Path,
        params: dict[str, Any],
        inputs: dict[str, Any],
    ) -> bool:
        value = getattr(spec, field_name)
        if value == LUA_FUNCTION:
            result, timed_out = await self.lua_call(
                spec, field_name, TaskResult(spec.name), cwd, (params, inputs)
            )
            if timed_out:
                raise LuaRuntimeError(f"{field_name} timed out")
            first = result[0] if isinstance(result, tuple) else result
            return bool(first)
        outcome = await run_shell(self.shell(spec, value, cwd), lambda s, line: None, self._shell_threads)
        return outcome.status is TaskStatus.SUCCESS

    async def hook(
        self, spec: TaskSpec, field_name: str, result: TaskResult, cwd: Path, args: tuple[Any, ...]
    ) -> tuple[bool, str]:
        value = getattr(spec, field_name)
        if value != LUA_FUNCTION:
            if self.check_mode:
                self.sink(result)("stdout", f"[check] {field_name} would run: {value}")
                return True, ""
            outcome = await run_shell(self.shell(spec, value, cwd), self.sink(result), self._shell_threads)
            return outcome.status is TaskStatus.SUCCESS, outcome.error
        try:
            returned, timed_out = await self.lua_call(spec, field_name, result, cwd, args)
        except LuaRuntimeError as exc:
            self.sink(result)("stderr", f"{field_name} failed: {exc.where}")
            return False, exc.where
        if timed_out:
            return False, "timed out"
        first = returned[0] if isinstance(returned, tuple) else returned
        return first is not False, ""

    async def workflow_hook(self, name: str, args: tuple[Any, ...]) -> None:
        if getattr(self.wf, name, None) != LUA_FUNCTION or self.lua is None:
            return
        scope = TaskScope(
            task_name="",
            run_id=self.run_id,
            workflow=self.wf.name,
            workdir=str(self.cwd),
            log=self.sink(TaskResult(WORKFLOW_LOG)),
        )
        call = LuaCall(self.wf.name, None, name, lambda sb: tuple(sb.to_lua(a) for a in args), scope, 60.0)
        try:
            await self.lua.call(call)
        except LuaRuntimeError as exc:
            self.journal.event("workflow.hook_failed", hook=name, error=exc.where)

    async def lua_call(
        self,
        spec: TaskSpec,
        field_name: str,
        result: TaskResult,
        cwd: Path,
        args: tuple[Any, ...],
        this: bool = True,
    ) -> tuple[Any, bool]:
        assert self.lua is not None, "a Lua call in a run without Lua"
        scope = TaskScope(
            task_name=spec.name,
            run_id=self.run_id,
            workflow=self.wf.name,
            workdir=str(cwd),
            log=self.sink(result),
            attempt=max(result.attempts, 1),
            started_at=result.attempt_started_at,
        )

        def build(sb: Sandbox) -> tuple[Any, ...]:
            converted = tuple(sb.to_lua(a) for a in args)
            return (_this(sb, spec.name, str(cwd)), *converted) if this else converted

        return await self.lua.call(LuaCall(self.wf.name, spec.name, field_name, build, scope, spec.timeout))

    def sink(self, result: TaskResult) -> Any:
        attempt = max(result.attempts, 1)
        journal, name = self.journal, result.name
        return BoundedSink(lambda stream, line: journal.line(name, attempt, stream, line))

    def shell(self, spec: TaskSpec, command: str, cwd: Path) -> ShellCommand:
        env = {
            **spec.env,
            "SLOTH_RUN_ID": self.run_id,
            "SLOTH_WORKFLOW": self.wf.name,
            "SLOTH_TASK": spec.name,
        }
        user = spec.user if spec.user and spec.user != _current_user() else None
        return ShellCommand(command, str(cwd), env, user, spec.timeout, self.process_groups)


def interpret(value: Any) -> AttemptOutcome:
    """A Lua command's return values: (ok, message, outputs), nothing, or an outputs table."""
    values = value if isinstance(value, tuple) else (value,)
    ok = values[0] if values else None
    message = values[1] if len(values) > 1 else None
    outputs = values[2] if len(values) > 2 else None
    if isinstance(ok, dict) and outputs is None:
        ok, outputs = True, ok
    if not isinstance(outputs, dict):
        outputs = {} if outputs in (None, [], {}) else {"value": outputs}
    text = bounded_text("" if message is None else str(message))
    too_large = outputs_error(outputs)
    if too_large is not None:
        return AttemptOutcome(TaskStatus.FAILED, too_large, too_large, {})
    if ok is False:
        return AttemptOutcome(
            TaskStatus.FAILED, text or "task returned false", text or "task returned false", outputs
        )
    status = TaskStatus.UNCHANGED if outputs.get("changed") is False else TaskStatus.SUCCESS
    return AttemptOutcome(status, text, "", outputs)


def _this(sandbox: Sandbox, name: str, workdir: str) -> Any:
    make = sandbox.context.get("make_this")
    if make is None:
        make = sandbox.run_lua(THIS_SOURCE, "this")
        sandbox.context["make_this"] = make
    return make(name, workdir)


def _current_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return ""
