"""Load a hook file into a sandboxed runtime and run it for one event, under a time limit.

A hook file has the same modules as a task. It defines `on_event(event)` or returns
`{ event_types = {...}, execute = function(event) ... end }`. Returning `false[, message]`
(or raising an error) is a failure; running past the hook's timeout stops it (the guard
hook stops Lua loops, and blocking module calls such as time.sleep and exec.run poll it).
A runtime is kept per hook and per worker thread while the hook does not change, and
dropped after a failure, so the next event starts from a clean runtime.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import DslError, LuaRuntimeError
from sloth_engine.lua.sandbox import LuaError, ModuleError, Sandbox, TaskScope, iter_array, lua_type
from sloth_engine.modules import ModuleEnv, install_all
from sloth_engine.store.hooks import ExecutionRow, HookDef

if TYPE_CHECKING:
    from sloth_engine.store import Store

HOOK_MEMORY_LIMIT = 64 * 1024 * 1024
LOAD_TIMEOUT = 10.0
MAX_OUTPUT = 64 * 1024

Emit = Callable[[str, dict[str, Any]], None]
"""What `event.dispatch` in a hook calls: (type, data)."""


_INVOKE = """
return function(fn, id, type, ts, severity, source, stack, run_id, data)
  return fn({
    id = id, type = type, timestamp = ts, severity = severity, source = source,
    stack = stack, run_id = run_id, data = data,
  })
end
"""
"""Builds the hook's `event` table inside the guarded call (one crossing instead of one per
field) and calls the hook with it; the fields are those of `hook_event`."""


@dataclass
class LoadedHook:
    sandbox: Sandbox
    fn: Any
    event_types: list[str]
    version: float = 0.0
    invoke: Any = None
    """The runtime's `_INVOKE` chunk: (fn, id, type, ts, severity, source, stack, run_id, data)."""


def chunk_name(name: str, path: str) -> str:
    return path or f"hook:{name}"


def load_hook(name: str, source: str, path: str = "", env: ModuleEnv | None = None) -> LoadedHook:
    """Run the hook file's top level; DslError (with file and line) when it is not a hook."""
    display = chunk_name(name, path)
    sandbox = Sandbox(memory_limit=HOOK_MEMORY_LIMIT)
    install_all(sandbox, env or ModuleEnv())
    sandbox.chunk_names.add(display)
    chunk = sandbox.load(source, "@" + display)
    if isinstance(chunk, tuple) or chunk is None:
        err = sandbox.error(Exception(str(chunk[1] if isinstance(chunk, tuple) else chunk)))
        raise DslError(f"syntax error: {err.message}", err.path or display, err.line)
    try:
        returned = sandbox.call(chunk, deadline=time.monotonic() + LOAD_TIMEOUT)
    except LuaRuntimeError as exc:
        raise DslError(exc.message, exc.path or display, exc.line) from None
    if isinstance(returned, tuple):
        returned = returned[0] if returned else None
    if lua_type(returned) == "table" and lua_type(returned["execute"]) == "function":
        types = returned["event_types"]
        names = [str(t) for t in iter_array(types)] if lua_type(types) == "table" else []
        return LoadedHook(sandbox, returned["execute"], names, invoke=_invoker(sandbox))
    on_event = sandbox.globals()["on_event"]
    if lua_type(on_event) == "function":
        return LoadedHook(sandbox, on_event, [], invoke=_invoker(sandbox))
    raise DslError(
        "a hook defines on_event(event) or returns { event_types = {...}, execute = function(event) end }",
        display,
    )


class HookRunner:
    """Runs hooks on one thread (a runtime is never shared between threads)."""

    def __init__(self, store: Store, emit_for: Callable[[HookDef], Emit]) -> None:
        self.store = store
        self.emit_for = emit_for
        self._loaded: dict[str, LoadedHook] = {}

    def run(self, hook: HookDef, event: Mapping[str, Any]) -> ExecutionRow:
        started, clock = time.time(), time.monotonic()
        lines: list[str] = []
        outcome, error = "success", None
        try:
            loaded = self._load(hook)
            answer = self._call(loaded, hook, event, lines, clock + hook.timeout_s)
            ok, message = _verdict(answer)
            if not ok:
                outcome, error = "failed", message or "the hook returned false"
        except DslError as exc:
            outcome, error = "failed", str(exc)
        except LuaRuntimeError as exc:
            timed_out = time.monotonic() >= clock + hook.timeout_s
            outcome = "timeout" if timed_out else "failed"
            error = f"stopped after {hook.timeout_s:g}s (timeout)" if timed_out else exc.where
        if outcome != "success":
            self._loaded.pop(hook.name, None)
        return ExecutionRow(
            hook.name,
            event.get("id"),
            event["type"],
            event.get("run_id"),
            started,
            time.monotonic() - clock,
            outcome,
            _joined(lines),
            error,
        )

    def _load(self, hook: HookDef) -> LoadedHook:
        loaded = self._loaded.get(hook.name)
        if loaded is not None and loaded.version == hook.updated_at:
            return loaded
        env = ModuleEnv(store=self.store, namespace=hook.stack or "default", emit_event=self.emit_for(hook))
        loaded = load_hook(hook.name, hook.source, hook.path, env)
        loaded.version = hook.updated_at
        self._loaded[hook.name] = loaded
        return loaded

    def _call(
        self, loaded: LoadedHook, hook: HookDef, event: Mapping[str, Any], lines: list[str], deadline: float
    ) -> Any:
        sandbox = loaded.sandbox
        size = [0]

        def collect(stream: str, line: str) -> None:
            if size[0] < MAX_OUTPUT:
                size[0] += len(line) + 1
                lines.append(line)

        sandbox.scope = TaskScope(task_name=f"hook:{hook.name}", log=collect)
        try:
            # The fields share one memory budget (strings too), as to_lua(hook_event(event)).
            fields = sandbox.to_lua_many(_event_fields(event))
            return sandbox.call(loaded.invoke, loaded.fn, *fields, deadline=deadline)
        except LuaError as exc:  # raised outside a guarded call (converting the event)
            raise sandbox.error(exc) from None
        except ModuleError as exc:  # the event does not fit in the hook's runtime
            raise LuaRuntimeError(str(exc)) from None

    def close(self) -> None:
        self._loaded.clear()


def hook_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the hook's `event` argument holds."""
    return {
        "id": event.get("id"),
        "type": event["type"],
        "timestamp": event.get("ts") or time.time(),
        "severity": event.get("severity") or "info",
        "source": event.get("source") or "",
        "stack": event.get("stack"),
        "run_id": event.get("run_id"),
        "data": event.get("data") or {},
    }


def _event_fields(event: Mapping[str, Any]) -> tuple[Any, ...]:
    """`hook_event(event)`'s values in `_INVOKE`'s argument order."""
    return (
        event.get("id"),
        event["type"],
        event.get("ts") or time.time(),
        event.get("severity") or "info",
        event.get("source") or "",
        event.get("stack"),
        event.get("run_id"),
        event.get("data") or {},
    )


def _invoker(sandbox: Sandbox) -> Any:
    return sandbox.run_lua(_INVOKE, "hook_event")


def _verdict(answer: Any) -> tuple[bool, str]:
    values = answer if isinstance(answer, tuple) else (answer,)
    if values and values[0] is False:
        return False, str(values[1]) if len(values) > 1 and values[1] is not None else ""
    return True, ""


def _joined(lines: list[str]) -> str:
    text = "\n".join(lines)
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n[output truncated]"
