"""Run a workflow's Lua functions as coroutines of one runtime, driven by the event loop.

The workflow file is loaded once per run. Each Lua call (a task's command, a condition, a
hook) runs as a coroutine resumed on the event loop's thread, so a task that only computes
costs no thread hop. When it calls a blocking module function (exec.run, time.sleep, a lock
wait), the coroutine yields the call; it runs on a worker thread while other tasks go on,
and the coroutine resumes with the answer. Each call has its own guard: its deadline and
cancel stop runaway Lua (the count hook) and blocking calls (which poll the guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sloth_engine.dsl import LoadedFile
from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import (
    Guard,
    LuaError,
    LuaMemoryError,
    ModuleError,
    Sandbox,
    TaskScope,
    invoke,
    lua_type,
)
from sloth_engine.lua.watchdog import StuckLua, Watchdog
from sloth_engine.process import signal_group
from sloth_engine.store_port import Chain

STUCK_GRACE = 2.0
"""How long a stopped blocking call may take to notice before the run stops waiting for it."""

Loader = Callable[[], LoadedFile]


class LuaStuck(Exception):
    """The runtime's thread is stuck in a C function: nothing more can run in it."""

    def __init__(self, stuck: StuckLua) -> None:
        super().__init__(stuck.message)
        self.stuck = stuck


@dataclass
class LuaCall:
    """One call of a Lua function: which one, with what, under which limits."""

    workflow: str
    task: str | None
    field: str
    args: Callable[[Sandbox], tuple[Any, ...]]
    """Builds the Lua arguments in the runtime."""
    scope: TaskScope
    timeout: float | None = None


class LuaPool:
    """The Lua side of one run: its runtime and the threads its blocking calls run on.

    With `own_thread`, every touch of the runtime happens on one thread of its own instead of
    the event loop's: Lua that computes for long then never holds the loop (a master or an
    agent keeps serving and heartbeating), at the cost of a thread hop per step.
    """

    def __init__(
        self,
        loader: Loader,
        workers: int,
        first: LoadedFile | None = None,
        own_thread: bool = False,
        on_stuck: Callable[[StuckLua], None] | None = None,
    ) -> None:
        self._loader = loader
        self._loaded = first
        # Threads are made only when needed; hooks and conditions may block beside the tasks.
        self._threads = ThreadPoolExecutor(max(8, 2 * workers), thread_name_prefix="sloth-lua-io")
        self._lua_thread = ThreadPoolExecutor(1, thread_name_prefix="sloth-lua") if own_thread else None
        self._active: dict[int, tuple[TaskScope, Guard]] = {}
        self._on_stuck = on_stuck
        self.watchdog = Watchdog(self._stuck)
        self.stuck: StuckLua | None = None
        """Set when a step never returned after its stop: the runtime is lost for good."""
        self._waiters: set[asyncio.Future[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: deque[tuple[_Chain, Any, BaseException | None]] = deque()
        """Answers of chained store calls, for the runtime's thread to resume their tasks."""
        self._inbox_lock = threading.Lock()
        self._draining = False
        self._unflushed: set[Chain] = set()
        """Ports whose chained calls wait for the end of the runtime thread's round to leave."""

    async def _on_lua(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn where the runtime lives: inline, or on the runtime's own thread (LuaStuck
        when that thread is lost in a C function)."""
        if self._lua_thread is None:
            return fn(*args)
        if self.stuck is not None:
            raise LuaStuck(self.stuck)
        loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()

        def work() -> None:
            try:
                value, error = fn(*args), None
            except BaseException as exc:  # handed to the awaiting coroutine
                value, error = None, exc
            loop.call_soon_threadsafe(_settle, waiter, value, error)

        self._waiters.add(waiter)
        try:
            self._lua_thread.submit(work)
            return await waiter
        finally:
            self._waiters.discard(waiter)

    def _stuck(self, stuck: StuckLua) -> None:
        """On the watchdog's thread: fail what waits on the runtime, then tell the owner."""
        self.stuck = stuck
        loop = self._loop
        if loop is not None and self._lua_thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits
                loop.call_soon_threadsafe(self._fail_waiters, stuck)
        if self._on_stuck is not None:
            self._on_stuck(stuck)

    def _fail_waiters(self, stuck: StuckLua) -> None:
        for waiter in list(self._waiters):
            if not waiter.done():
                waiter.set_exception(LuaStuck(stuck))

    def _file(self) -> LoadedFile:
        if self._loaded is None:
            self._loaded = self._loader()
        return self._loaded

    async def call(self, call: LuaCall) -> tuple[Any, bool]:
        """Run the call; returns (result, timed_out). Lua errors raise LuaRuntimeError."""
        if self.stuck is not None:
            raise LuaRuntimeError(self.stuck.message)
        loaded = await self._on_lua(self._file)
        sandbox = loaded.sandbox
        if call.task is None:
            fn = loaded.workflow_function(call.workflow, call.field)
        else:
            fn = loaded.task_function(call.workflow, call.task, call.field)
        if fn is None:
            raise LuaRuntimeError(f"function {call.field} of {call.task or call.workflow} not found")
        # The clock starts at the call's first step (below): a task queued behind another on
        # the runtime's own thread is not charged for that wait.
        guard = Guard()
        key = id(guard)
        self._active[key] = (call.scope, guard)
        try:
            return await self._drive(sandbox, fn, call, guard)
        finally:
            self._active.pop(key, None)

    async def _drive(self, sandbox: Sandbox, fn: Any, call: LuaCall, guard: Guard) -> tuple[Any, bool]:
        co = await self._on_lua(sandbox.start, fn)
        try:
            return await self._steps(sandbox, co, call, guard)
        except asyncio.CancelledError:
            guard.cancel("cancelled")  # before waiting on the runtime: its step must stop
            kill_scope_processes(call.scope)
            raise
        except LuaStuck:
            kill_scope_processes(call.scope)
            return _stopped(guard)
        finally:
            if self.stuck is None:
                with contextlib.suppress(LuaStuck):
                    await self._on_lua(sandbox.discard, co)

    async def _steps(self, sandbox: Sandbox, co: int, call: LuaCall, guard: Guard) -> tuple[Any, bool]:
        answer: tuple[bool, Any] | None = None
        while True:
            if self._lua_thread is None:
                step = await self._on_lua(self._step, sandbox, co, call, guard, answer)
            else:
                step = await self._chained(_Chain(sandbox, co, call, guard), answer)
                if step is None:
                    return None, True
            kind, *rest = step
            if guard.reason is not None:
                # Stopped, whatever the Lua code did after (a user coroutine that swallowed the
                # stop and returned true is still a task that timed out or was cancelled).
                return _stopped(guard)
            if kind == "done":
                if guard.check() is not None:  # it returned, but past its deadline (a long C call)
                    return _stopped(guard)
                return rest[0], False
            if kind == "error":
                error = rest[0]
                if guard.config_error is not None and guard.config_error in str(error):
                    error.final = True  # the call ended on a configuration error
                raise error
            index, args = rest
            answer = await self._offload(sandbox, call.scope, guard, index, args)
            if answer is None:
                return None, True

    # ---- store calls chained on the runtime's own thread ---------------------------------
    # A task calling `state` on an agent would cost two thread hops and a handful of loop
    # callbacks per call through _steps. Instead the runtime's thread sends the call itself
    # (the port's `chain`) and resumes the coroutine when the answer is handed back to it, the
    # answers of many tasks at once; only other outcomes go back to the loop.

    async def _chained(self, chain: _Chain, answer: tuple[bool, Any] | None) -> tuple[Any, ...] | None:
        """Resume the coroutine on the runtime's thread until it finishes, fails or offloads
        a call that cannot be chained; None when a store call outlived the task's deadline."""
        assert self._lua_thread is not None
        if self.stuck is not None:
            raise LuaStuck(self.stuck)
        loop = self._loop = chain.loop = asyncio.get_running_loop()
        chain.waiter = waiter = loop.create_future()
        self._waiters.add(waiter)
        try:
            self._lua_thread.submit(self._start, chain, answer)
            while True:
                deadline = chain.guard.deadline
                if deadline is None and chain.call.timeout is None:
                    return await waiter  # type: ignore[no-any-return]
                # (no deadline yet: the first step sets it on the runtime's thread, look again)
                limit = 0.25 if deadline is None else max(0.0, deadline - time.monotonic()) + STUCK_GRACE
                try:
                    return await asyncio.wait_for(asyncio.shield(waiter), limit)  # type: ignore[no-any-return]
                except TimeoutError:
                    if deadline is not None and chain.calling:  # a store call past the deadline
                        chain.guard.cancel("stopped: time limit exceeded")
                        kill_scope_processes(chain.call.scope)
                        return None
                    # Lua itself past its stop: the guard stops it, or the watchdog gives it up
        finally:
            chain.abandoned = True  # a late answer resumes nothing
            self._waiters.discard(waiter)

    def _start(self, chain: _Chain, answer: tuple[bool, Any] | None) -> None:
        self._advance(chain, answer)
        self._flush()

    def _flush(self) -> None:
        """On the runtime's thread: the calls sent by this round of steps leave together."""
        while self._unflushed:
            self._unflushed.pop().flush()

    def _advance(self, chain: _Chain, answer: tuple[bool, Any] | None) -> None:
        """On the runtime's thread: step, and send the store calls the steps make."""
        chain.calling = False
        if chain.abandoned:
            return
        try:
            step = self._step(chain.sandbox, chain.co, chain.call, chain.guard, answer)
        except BaseException as exc:  # handed to the awaiting coroutine
            self._end(chain, None, exc)
            return
        fn: Any = None
        if step[0] == "offload" and step[1] and chain.guard.reason is None and not chain.abandoned:
            fn = chain.sandbox.blocking_function(step[1])
        port: Chain | None = getattr(fn, "sloth_chain", None)
        if port is None:
            self._end(chain, step, None)
            return
        chain.calling = True
        self._unflushed.add(port)
        sandbox, scope, guard, args = chain.sandbox, chain.call.scope, chain.guard, step[2]
        port.send(
            lambda: _bound_call(sandbox, fn, args, scope, guard),
            lambda value, error: self._answered(chain, value, error),
        )

    def _answered(self, chain: _Chain, value: Any, error: BaseException | None) -> None:
        """A chained call's end (on the loop, or here): back to the runtime's thread."""
        with self._inbox_lock:
            self._inbox.append((chain, value, error))
            if self._draining:
                return
            self._draining = True
        assert self._lua_thread is not None
        try:
            self._lua_thread.submit(self._drain)
        except RuntimeError:  # the pool is closed: nothing will resume these
            self._draining = False

    def _drain(self) -> None:
        """On the runtime's thread: resume the tasks whose answers have come, all of them in
        one go (their next calls leave together); later ones wait behind other work."""
        with self._inbox_lock:
            ready, self._inbox = self._inbox, deque()
        for chain, value, error in ready:
            if error is not None:
                chain.calling = False
                self._end(chain, None, error)
            else:
                self._advance(chain, value)
        self._flush()
        with self._inbox_lock:
            if not self._inbox:
                self._draining = False
                return
        assert self._lua_thread is not None
        with contextlib.suppress(RuntimeError):  # closed: nothing will resume these
            self._lua_thread.submit(self._drain)

    def _end(self, chain: _Chain, step: tuple[Any, ...] | None, error: BaseException | None) -> None:
        if chain.abandoned or chain.loop is None or chain.waiter is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits
            chain.loop.call_soon_threadsafe(_settle, chain.waiter, step, error)

    def _step(
        self, sandbox: Sandbox, co: int, call: LuaCall, guard: Guard, answer: tuple[bool, Any] | None
    ) -> tuple[Any, ...]:
        """Resume the coroutine once, where the runtime lives; only Python values come back:
        ("done", value) | ("error", LuaRuntimeError) | ("offload", index, args or an error)."""
        self.watchdog.enter(guard, call.scope)
        try:
            if answer is None:
                if call.timeout is not None and guard.deadline is None:
                    guard.deadline = time.monotonic() + call.timeout
                reply = self._enter(sandbox, call.scope, guard, call.args, sandbox)
            else:
                reply = sandbox.lua_result(answer)
            outcome = self._enter(sandbox, call.scope, guard, sandbox.step, co, *reply)
            if not isinstance(outcome, tuple):
                outcome = (outcome,)  # lupa hands a single return value over bare
            kind = outcome[0]
            if kind == "done":
                return ("done", _plain(sandbox, outcome[1:]))
            if kind == "error":
                return ("error", _task_error(sandbox, outcome[1] if len(outcome) > 1 else None))
            try:
                return ("offload", outcome[1], tuple(sandbox.to_py(a) for a in outcome[2:]))
            except ModuleError as exc:
                return ("offload", 0, exc)
        except LuaRuntimeError as exc:
            return ("error", exc)
        finally:
            self.watchdog.leave(guard)

    def _enter(
        self, sandbox: Sandbox, scope: TaskScope, guard: Guard, action: Callable[..., Any], *args: Any
    ) -> Any:
        """Run `action(*args)` with the runtime working for this call's task."""
        previous = sandbox.scope, sandbox.guard
        sandbox.scope, sandbox.guard = scope, guard
        try:
            return action(*args)
        except LuaMemoryError:  # the runtime's own step ran out too: its message is empty
            limit = sandbox.memory_limit // (1024 * 1024)
            raise LuaRuntimeError(f"memory limit exceeded ({limit} MB)") from None
        except LuaError as exc:
            raise sandbox.error(exc) from None
        except ModuleError as exc:  # a value too large or too deep for the runtime
            raise LuaRuntimeError(str(exc)) from None
        except UnicodeDecodeError:
            raise LuaRuntimeError("text leaving Lua is not valid UTF-8 (encode bytes, e.g. as hex)") from None
        finally:
            sandbox.scope, sandbox.guard = previous

    async def _offload(
        self, sandbox: Sandbox, scope: TaskScope, guard: Guard, index: int, args: Any
    ) -> tuple[bool, Any] | None:
        """Run a blocking call on a thread; None when it outlived its task's deadline."""
        if isinstance(args, ModuleError):
            return False, str(args)
        fn = sandbox.blocking_function(index)
        loop = asyncio.get_running_loop()
        twin = getattr(fn, "sloth_async", None)
        if twin is not None:  # its only wait is a network call: awaited here, no thread hop
            future = asyncio.ensure_future(twin(lambda: _bound_call(sandbox, fn, args, scope, guard)))
        else:
            future = loop.run_in_executor(self._threads, _bound_call, sandbox, fn, args, scope, guard)
        if guard.deadline is None:
            return await asyncio.shield(future)
        limit = max(0.0, guard.deadline - time.monotonic()) + STUCK_GRACE
        try:
            return await asyncio.wait_for(asyncio.shield(future), limit)
        except TimeoutError:
            guard.cancel("stopped: time limit exceeded")
            kill_scope_processes(scope)
            return None

    def cancel_all(self, reason: str) -> None:
        for scope, guard in list(self._active.values()):
            guard.cancel(reason)
            kill_scope_processes(scope)

    def close(self) -> None:
        self.watchdog.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._lua_thread is not None:
            self._lua_thread.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False)
class _Chain:
    """One task's coroutine while the runtime's thread drives it through its store calls."""

    sandbox: Sandbox
    co: int
    call: LuaCall
    guard: Guard
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[Any] | None = None
    calling: bool = False
    """A store call is out (set and cleared on the runtime's thread, read on the loop's)."""
    abandoned: bool = False
    """The loop stopped waiting (deadline, cancel, stuck): late answers resume nothing."""


def _stopped(guard: Guard) -> tuple[Any, bool]:
    """A stopped call: (None, True) when its deadline passed, CancelledError when cancelled."""
    if guard.timed_out():
        return None, True
    raise asyncio.CancelledError(guard.reason)


def _settle(waiter: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(value)


def _bound_call(
    sandbox: Sandbox, fn: Callable[..., Any], args: tuple[Any, ...], scope: TaskScope, guard: Guard
) -> tuple[bool, Any]:
    sandbox.bind_thread(scope, guard)
    try:
        return invoke(fn, args)
    finally:
        sandbox.bind_thread(None, None)


def _task_error(sandbox: Sandbox, message: Any) -> LuaRuntimeError:
    kind = lua_type(message)
    if kind is not None:
        # str() would call the object's __tostring outside any guard: an endless one hangs.
        return LuaRuntimeError(f"(error object is a {kind} value)")
    text = "error" if message is None else str(message)
    if text == "not enough memory":
        return LuaRuntimeError(f"memory limit exceeded ({sandbox.memory_limit // (1024 * 1024)} MB)")
    return sandbox.error(Exception(text))


def _plain(sandbox: Sandbox, values: tuple[Any, ...]) -> Any:
    try:
        converted = tuple(sandbox.to_py(v, keep_functions=False) for v in values)
    except ModuleError as exc:
        raise LuaRuntimeError(f"returned value cannot be kept: {exc}") from None
    except UnicodeDecodeError:
        raise LuaRuntimeError("returned value cannot be kept: text is not valid UTF-8") from None
    if not converted:
        return None
    return converted[0] if len(converted) == 1 else converted


def kill_scope_processes(scope: TaskScope) -> None:
    """Kill the process groups a task started through exec.run."""
    with scope.lock:
        processes = list(scope.processes)
    for proc in processes:
        signal_group(proc.pid, signal.SIGKILL)
