"""Run a workflow's Lua functions on worker threads, each with its own runtime.

A lupa runtime serialises every call into it, so one shared runtime would run the Lua tasks
of a run one at a time. Each worker thread therefore loads the workflow file into a runtime of
its own (a few milliseconds) and finds the task's function there by workflow and task name.
Top-level code of a workflow file thus runs once per worker: tasks share data through their
outputs and the state module, not through Lua globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sloth_engine.dsl import LoadedFile
from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import ModuleError, Sandbox, TaskScope

STUCK_GRACE = 2.0
"""How long a stopped Lua call may take to notice before the run stops waiting for it."""

Loader = Callable[[], LoadedFile]


@dataclass
class LuaCall:
    """One call of a Lua function: which one, with what, under which limits."""

    workflow: str
    task: str | None
    field: str
    args: Callable[[Sandbox], tuple[Any, ...]]
    """Builds the Lua arguments inside the worker's runtime."""
    scope: TaskScope
    timeout: float | None = None


class LuaPool:
    def __init__(self, loader: Loader, workers: int, first: LoadedFile | None = None) -> None:
        self._loader = loader
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="sloth-lua")
        self._local = threading.local()
        self._spare = first
        self._spare_lock = threading.Lock()
        self._active: dict[int, Sandbox] = {}
        self._active_lock = threading.Lock()

    def _runtime(self) -> LoadedFile:
        loaded = getattr(self._local, "loaded", None)
        if loaded is None:
            with self._spare_lock:
                loaded, self._spare = self._spare, None
            if loaded is None:
                loaded = self._loader()
            self._local.loaded = loaded
        return loaded

    async def call(self, call: LuaCall) -> tuple[Any, bool]:
        """Run the call; returns (result, timed_out). Lua errors raise LuaRuntimeError."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._call_sync, call)
        try:
            if call.timeout is None:
                return await asyncio.shield(future)
            return await asyncio.wait_for(asyncio.shield(future), call.timeout + STUCK_GRACE)
        except TimeoutError:
            return None, True
        except asyncio.CancelledError:
            self._stop(call.scope, "cancelled")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(future, STUCK_GRACE)
            raise

    def _call_sync(self, call: LuaCall) -> tuple[Any, bool]:
        loaded = self._runtime()
        sandbox = loaded.sandbox
        if call.task is None:
            fn = loaded.workflow_function(call.workflow, call.field)
        else:
            fn = loaded.task_function(call.workflow, call.task, call.field)
        if fn is None:
            raise LuaRuntimeError(f"function {call.field} of {call.task or call.workflow} not found")
        deadline = None if call.timeout is None else time.monotonic() + call.timeout
        sandbox.scope = call.scope
        ident = id(call.scope)
        with self._active_lock:
            self._active[ident] = sandbox
        try:
            args = call.args(sandbox)
            result = sandbox.call(fn, *args, deadline=deadline)
            return _plain(sandbox, result), False
        except LuaRuntimeError:
            if deadline is not None and time.monotonic() >= deadline:
                return None, True
            raise
        finally:
            with self._active_lock:
                self._active.pop(ident, None)
            sandbox.scope = TaskScope()

    def _stop(self, scope: TaskScope, reason: str) -> None:
        with self._active_lock:
            sandbox = self._active.get(id(scope))
        if sandbox is not None:
            sandbox.guard.cancel(reason)
        kill_scope_processes(scope)

    def cancel_all(self, reason: str) -> None:
        with self._active_lock:
            active = list(self._active.values())
        for sandbox in active:
            sandbox.guard.cancel(reason)
            kill_scope_processes(sandbox.scope)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _plain(sandbox: Sandbox, result: Any) -> Any:
    try:
        if isinstance(result, tuple):
            return tuple(sandbox.to_py(r, keep_functions=False) for r in result)
        return sandbox.to_py(result, keep_functions=False)
    except ModuleError as exc:
        raise LuaRuntimeError(f"returned value cannot be kept: {exc}") from None


def kill_scope_processes(scope: TaskScope) -> None:
    """Kill the process groups a task started through exec.run."""
    with scope.lock:
        processes = list(scope.processes)
    for proc in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.killpg(proc.pid, signal.SIGKILL)
