"""Run a workflow of a loaded file on this machine: the engine's entry point for a run."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sloth_engine import tracing, unrecorded
from sloth_engine.dsl import LoadedFile, load_file
from sloth_engine.errors import LuaRuntimeError, SecretsError, StoreError
from sloth_engine.executor.dag import DagExecutor
from sloth_engine.executor.journal import Journal, Listener
from sloth_engine.executor.lua_pool import LuaCall, LuaPool
from sloth_engine.executor.remote import RemotePort
from sloth_engine.executor.results import RunResult, TaskResult
from sloth_engine.executor.stuck import end_stuck_run, signals_to_lua
from sloth_engine.executor.task_runner import RunContext, TaskRunner
from sloth_engine.home import sloth_home
from sloth_engine.lua.sandbox import TaskScope
from sloth_engine.lua.watchdog import StuckLua
from sloth_engine.modules import ModuleEnv
from sloth_engine.process import signal_group
from sloth_engine.run_owner import current_owner
from sloth_engine.run_transition import RunTransition
from sloth_engine.secrets import Redactor
from sloth_engine.spec import LUA_FUNCTION, RunStatus, WorkflowSpec

if TYPE_CHECKING:
    from sloth_engine.events.bus import EventBus
    from sloth_engine.executor.ssh_shell import SshHosts
    from sloth_engine.secrets.keys import KeyMaterial
    from sloth_engine.store import Store

log = logging.getLogger(__name__)


def source_digest(text: str) -> str:
    """The digest a run records of its workflow file's text (sloth_engine.retry compares it)."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def file_digest(path: str | Path) -> str | None:
    """source_digest of the file at `path`; None when it cannot be read."""
    try:
        return source_digest(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]


class RunLifecycle(Protocol):
    """What a run calls around itself (sloth_engine.stacks.lifecycle.StackLifecycle is one)."""

    async def before_run(self, run: WorkflowRun) -> None: ...

    async def after_run(self, run: WorkflowRun, result: RunResult | None) -> RunResult | None:
        """The result to report (given a result); called with None when the run raised."""
        ...


@dataclass
class RunRequest:
    """What to run and how; built by the CLI (or a master) from its arguments."""

    path: str
    values: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    max_parallel: int | None = None
    stack: str | None = None
    home: Path = field(default_factory=sloth_home)
    store: Store | None = None
    listeners: list[Listener] = field(default_factory=list)
    cwd: Path = field(default_factory=Path.cwd)
    retry_delay: float | None = None
    lua_thread: bool = False
    """Run the Lua runtime on a thread of its own, not on the event loop (masters and agents:
    a task computing in Lua must not hold their heartbeats and calls)."""
    check_mode: bool = False
    """`--check`: the modules (file_ops, pkg, ...) report what would change and change nothing."""
    show_diff: bool = False
    """`--diff`: a file's change is shown as a unified diff in the task's output."""
    bus: EventBus | None = None
    """An EventBus (sloth_engine.events): the run's events reach its hooks and watchers."""
    secret_key: KeyMaterial | None = None
    """KeyMaterial for the secrets the workflow names (default: from the environment)."""
    agent_facts: Callable[[str], dict[str, Any]] | None = None
    """Another machine's last reported facts by agent name (a master or an agent gives it): the
    `facts` module's `{ agent = name }`. Raises KeyError for an unknown agent."""
    shown_root: str | None = None
    """Messages name the files under this folder relative to it (a master's copy of a submitted
    workflow: clients see `deploy.sloth:3: ...`, never the master's own paths)."""
    on_stuck: Callable[[StuckLua], None] | None = None
    """Called (on a watchdog thread) when Lua code of the run cannot be stopped; by default a
    run with Lua on the event loop records itself and ends the process (sloth_engine.executor.stuck)."""
    ssh_hosts: SshHosts | None = None
    """`run --ssh`: each task's shell command runs on these hosts (executor/ssh_shell.py)."""
    lifecycle: RunLifecycle | None = None
    """Called around each run: `await before_run(run)` may refuse it by raising (a held stack
    lock); `await after_run(run, result)` returns the result to report, and is called with
    None if the run raised. sloth_engine.stacks.lifecycle.StackLifecycle is one."""
    trace_parent: dict[str, str] = field(default_factory=dict)
    """The W3C trace context of whoever asked for the run (a client's SubmitRun): the run's
    span is its child (sloth_engine/tracing.py; unused while tracing is off)."""


def module_env(
    request: RunRequest, workflow: WorkflowSpec | None, emit: Callable[[str, dict], None]
) -> ModuleEnv:
    stack = request.stack or (workflow.stack if workflow else None)
    env = ModuleEnv(
        values=request.values,
        store=request.store,
        namespace=stack or "default",
        stack=stack,
        emit_event=emit,
        check_mode=request.check_mode,
        show_diff=request.show_diff,
    )
    env.agent_facts = request.agent_facts
    return env


def load(request: RunRequest) -> LoadedFile:
    """Load the file once, for validation, planning and the first worker of a run."""
    return load_file(request.path, values=request.values, env=module_env(request, None, _no_event))


@dataclass
class Resume:
    """A run that a previous process started and did not finish (a master restarting)."""

    run_id: str
    finished: dict[str, TaskResult] = field(default_factory=dict)
    """Tasks that had ended: they keep their results and are not run again."""
    in_flight: dict[str, int] = field(default_factory=dict)
    """Tasks whose attempt N had started: they go on at attempt N (adopted, or recorded lost
    and retried per their policy), without their conditions and pre_hook again."""
    reused_from: str | None = None
    """A retry (sloth_engine.retry): a new run whose `finished` tasks come from this run; they
    are recorded in the new run, `task.reused`, when it starts."""


class WorkflowRun:
    """One run of one workflow: its journal, executor and Lua workers."""

    def __init__(
        self,
        request: RunRequest,
        loaded: LoadedFile | None,
        workflow: WorkflowSpec,
        remote: RemotePort | None = None,
        resume: Resume | None = None,
    ) -> None:
        self.request = request
        self.workflow = workflow
        self.resume = resume
        self.run_id = resume.run_id if resume else new_run_id()
        stack = request.stack or workflow.stack
        self.journal = Journal(self.run_id, workflow.name, request.store, stack)
        if request.shown_root:
            self.journal.redactor = Redactor((), request.shown_root)
        self.journal.listeners.extend(request.listeners)
        if request.bus is not None:
            self.journal.listeners.append(request.bus.journal_listener(stack))
        self.transition = RunTransition(
            self.run_id, workflow.name, request.store, stack, self.journal, exists=resume is not None
        )
        """The run's checked state changes (create, start, finish): sloth_engine.run_transition."""
        self.secrets: dict[str, str] = {}
        """Filled when the run starts with what config.secrets names (the modules read it)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = time.time()
        self.lua = self._lua_pool(loaded) if _uses_lua(workflow) else None
        ctx = RunContext(
            run_id=self.run_id,
            workflow=workflow,
            cwd=Path(workflow.workdir).expanduser() if workflow.workdir else request.cwd,
            run_dir=request.home / "runs" / self.run_id,
            params=request.params,
            retry_delay=workflow.retry_delay,
            check_mode=request.check_mode,
            in_flight=dict(resume.in_flight) if resume else {},
        )
        ctx.secrets = self.secrets  # the same dict: filled when the run starts
        if request.retry_delay is not None:
            ctx.retry_delay = request.retry_delay
        self.ctx = ctx
        self.runner = TaskRunner(ctx, self.journal, self.lua, remote)
        self.runner.calls.ssh_hosts = request.ssh_hosts
        self.executor = DagExecutor(
            workflow,
            self.runner,
            self.journal,
            request.max_parallel,
            resume.finished if resume else None,
        )
        self.executor.reused = bool(resume and resume.reused_from)

    def _lua_pool(self, loaded: LoadedFile | None) -> LuaPool:
        request = self.request

        def emit(kind: str, data: dict[str, Any]) -> None:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(lambda: self.journal.dispatched(kind, data))

        wanted = module_env(request, self.workflow, emit)
        wanted.secrets = self.secrets

        def loader() -> LoadedFile:
            return load_file(request.path, values=request.values, env=wanted)

        first = None
        same_env = loaded is not None and (loaded.env.namespace, loaded.env.store) == (
            wanted.namespace,
            request.store,
        )
        if loaded is not None and same_env:
            # The file is already loaded with what this run needs: run in that runtime.
            loaded.env.emit_event = emit
            loaded.env.secrets = self.secrets
            first = loaded

        workers = min(
            request.max_parallel or self.workflow.max_parallel or os.cpu_count() or 1,
            max(1, len(self.workflow.tasks)),
        )
        return LuaPool(loader, workers, first, own_thread=request.lua_thread, on_stuck=self._on_stuck)

    def _on_stuck(self, stuck: StuckLua) -> None:
        """On the watchdog's thread. With Lua on the event loop, that loop is held for good:
        the run is recorded and the process ends. With Lua on its own thread the run goes on
        (the pool fails the stuck call) and only `request.on_stuck` is told."""
        if self.request.on_stuck is not None:
            self.request.on_stuck(stuck)
        elif not self.request.lua_thread:
            request = self.request
            end_stuck_run(
                self.transition, request.store, self.journal, stuck, self._started, self.kill_processes
            )

    def cancel(self, reason: str = "interrupted") -> None:
        """Stop the run; safe to call from a signal handler while Lua code runs."""
        if self.lua is not None:
            self.lua.cancel_all(reason)  # trips the guard of Lua code running right now
        self.executor.cancel(reason)

    def kill_processes(self) -> None:
        """Last resort (a second Ctrl-C): kill every process group the run started, now."""
        for pgid in list(self.runner.process_groups):
            signal_group(pgid, signal.SIGKILL)
        if self.lua is not None:
            self.lua.cancel_all("killed")

    async def execute(self) -> RunResult:
        attributes = {"sloth_workflow": self.workflow.name, "sloth_run_id": self.run_id}
        with tracing.span("sloth.run", self.request.trace_parent, **attributes) as span:
            result = await self._execute_run()
            span.ended(result.status.value, result.status is RunStatus.SUCCESS)
            return result

    async def _execute_run(self) -> RunResult:
        self._loop = asyncio.get_running_loop()
        self._started = time.time()
        wf = self.workflow
        self._grant_secrets()
        lifecycle = self.request.lifecycle
        if lifecycle is not None:
            await lifecycle.before_run(self)
        if wf.workdir and wf.create_workdir:
            Path(wf.workdir).expanduser().mkdir(parents=True, exist_ok=True)
        tee = None if self.lua is None or self.request.lua_thread else signals_to_lua(self.lua)
        try:
            return await self._execute(lifecycle)
        finally:
            if tee is not None:
                tee.uninstall()

    async def _execute(self, lifecycle: RunLifecycle | None) -> RunResult:
        if self.transition.status is None:
            path = self.request.path
            digest = file_digest(path)
            self.transition.create(str(path), self.request.params, current_owner(), source_digest=digest)
        try:
            result = await self._run_executor()
            if self.journal.redactor is not None:
                result = self.journal.redactor.result(result)
            if lifecycle is not None:
                reported = await lifecycle.after_run(self, result)
                result, lifecycle = reported or result, None
            self.journal.flush()  # what the lifecycle added, before the end
            result = await asyncio.to_thread(self._record_end, result)
            clean = await self._should_clean(result)
        except Exception as exc:  # after the executor (stack lifecycle, the store): still ends
            self._record_broken(exc)
            raise
        finally:
            if lifecycle is not None:  # the run raised: the lifecycle lets go of what it holds
                await lifecycle.after_run(self, None)
            self.journal.close()
            self.runner.close()
            if self.lua is not None:
                self.lua.close()
        if clean:
            self._clean_workdir()
        return result

    def _record_end(self, result: RunResult) -> RunResult:
        """End the run (recorded through a blip of the store, then announced); when the store
        refuses it, keep the outcome on disk and say so: the client must not believe what the
        store does not."""

        ended = time.time()
        status, error = result.status, result.error or None
        try:
            self.transition.finish(status, result.duration_s, error, at=ended)
        except StoreError as exc:
            log.error("run %s ended %s but the store cannot record it: %s", self.run_id, status, exc)
            try:
                unrecorded.keep(self.request.home, result, ended, str(exc))
            except OSError as disk:
                log.error("run %s: cannot keep its outcome on disk either: %s", self.run_id, disk)
            result.unrecorded = str(exc)
        return result

    async def _run_executor(self) -> RunResult:
        """The executor's result; an unexpected error ends the run `failed` with its message."""
        started = time.time()
        self.journal.bind(asyncio.get_running_loop())
        self.transition.start(started)
        try:
            result = await self.executor.run()
        except Exception as exc:  # the boundary of a run: it must end, whatever broke
            log.exception("run %s broke", self.run_id)
            self.executor.cancel("the run broke")
            tasks = list(self.executor.results.values())
            error = f"the run stopped on an unexpected error: {exc or type(exc).__name__}"
            result = RunResult(
                self.run_id,
                self.workflow.name,
                RunStatus.FAILED,
                time.time() - started,
                tasks,
                error,
                started,
            )
        self.transition.conclude(result.status, result.duration_s, result.error)
        return result

    def _record_broken(self, exc: Exception) -> None:
        """The run raised past its executor: end it `failed` with the message (best effort:
        the store itself may be what failed)."""
        if self.transition.ended:
            return
        text = f"the run stopped on an unexpected error: {exc or type(exc).__name__}"
        try:
            duration = time.time() - self._started
            self.transition.finish(RunStatus.FAILED, duration, text, close_attempts=True)
        except Exception:  # the original error is the one to report
            log.exception("cannot record the end of run %s", self.run_id)

    def _grant_secrets(self) -> None:
        """Decrypt what config.secrets names; from now on their values are hidden in output."""
        names = self.workflow.config.get("secrets") or []
        if isinstance(names, str):
            names = [names]
        if not names:
            return
        # lazy: the vault and key files (~1.5 ms of start-up) load only for a run naming secrets
        from sloth_engine.secrets.keys import key_material
        from sloth_engine.secrets.vault import SecretVault  # lazy: as above

        if self.request.store is None:
            raise SecretsError(f"workflow '{self.workflow.name}' names secrets but the run has no store")
        material = self.request.secret_key or key_material()
        vault = SecretVault(self.request.store, material)
        stack = self.journal.stack or "default"
        self.secrets.update(vault.grant(stack, [str(n) for n in names], self.workflow.name))
        self.journal.redactor = Redactor(self.secrets.values(), self.request.shown_root)

    async def _should_clean(self, result: RunResult) -> bool:
        """clean_workdir_after_run: true, or a function given {success, status, duration_s}."""
        wf = self.workflow
        if not wf.workdir or wf.clean_workdir is False:
            return False
        if wf.clean_workdir != LUA_FUNCTION:
            return True
        if self.lua is None:
            return False
        summary = {
            "success": result.status is RunStatus.SUCCESS,
            "status": result.status.value,
            "duration_s": result.duration_s,
        }
        scope = TaskScope(run_id=self.run_id, workflow=wf.name, workdir=str(self.ctx.cwd))
        call = LuaCall(wf.name, None, "clean_workdir", lambda sb: (sb.to_lua(summary),), scope, 60.0)
        try:
            answer, _ = await self.lua.call(call)
        except LuaRuntimeError as exc:
            self.journal.event("workflow.hook_failed", hook="clean_workdir_after_run", error=str(exc))
            self.journal.flush()
            return False
        return bool(answer[0] if isinstance(answer, tuple) else answer)

    def _clean_workdir(self) -> None:
        wf = self.workflow
        assert wf.workdir is not None
        target = Path(wf.workdir).expanduser().resolve()
        protected = {Path("/"), Path.home().resolve(), self.request.cwd.resolve()}
        if target in protected or self.request.cwd.resolve().is_relative_to(target):
            return
        shutil.rmtree(target, ignore_errors=True)


def _uses_lua(workflow: WorkflowSpec) -> bool:
    hooks = (
        workflow.on_start,
        workflow.on_complete,
        workflow.on_task_start,
        workflow.on_task_complete,
    )
    if LUA_FUNCTION in hooks or workflow.clean_workdir == LUA_FUNCTION:
        return True
    fields = (
        "command",
        "run_if",
        "abort_if",
        "pre_hook",
        "post_hook",
        "on_success",
        "on_failure",
        "on_timeout",
        "on_rollback",
    )
    return any(getattr(t, f) == LUA_FUNCTION for t in workflow.tasks.values() for f in fields)


def _no_event(kind: str, data: dict[str, Any]) -> None:
    return None
