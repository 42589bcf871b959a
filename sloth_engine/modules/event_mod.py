"""`event`: raise events that hooks receive.

`event.dispatch(type, data)` hands `type` and `data` (a table of plain data, or nil for `{}`)
to whoever created the runtime; it returns true. `event.dispatch_custom(name, message)` is a
`custom` event `{name, message}`; `event.dispatch_file(kind, path[, watcher])` is a
`file.created|modified|deleted` event `{path, watcher}` (both from the original).
"""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox, lua_type
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.secrets_mod import granted
from sloth_engine.secrets import SECRET_REFUSED, holds_secret

FILE_EVENTS = ("created", "modified", "deleted")
EVENT_STREAM = "event"
"""sloth_engine.executor.journal.EVENT_STREAM (not imported: modules stay free of the executor)."""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def emit(kind: Any, data: dict[str, Any]) -> bool:
        if not isinstance(kind, str) or not kind.strip():
            raise ModuleError("event.dispatch: the event type must be a non-empty string")
        if holds_secret(data, granted(sandbox, env)):
            raise ModuleError(f"event.dispatch '{kind}': {SECRET_REFUSED}")
        if env.events_via_output:
            sandbox.scope.log(EVENT_STREAM, json.dumps({"type": kind, "data": data}, default=str))
        else:
            env.emit_event(kind, data)
        return True

    def dispatch(kind: Any = None, data: Any = None) -> bool:
        if data is None:
            return emit(kind, {})
        if lua_type(data) != "table":
            raise ModuleError("event.dispatch: data must be a table")
        payload = sandbox.to_py(data, keep_functions=False)
        if not isinstance(payload, dict):
            raise ModuleError("event.dispatch: data must be a table of name = value")
        return emit(kind, payload)

    def dispatch_custom(name: Any = None, message: Any = "") -> bool:
        return emit("custom", {"name": str(name), "message": str(message)})

    def dispatch_file(kind: Any = None, path: Any = None, watcher: Any = "") -> bool:
        if kind not in FILE_EVENTS:
            raise ModuleError(
                f"event.dispatch_file: kind must be one of {', '.join(FILE_EVENTS)}, got {kind!r}"
            )
        return emit(f"file.{kind}", {"path": str(path), "watcher": str(watcher or "")})

    module = sandbox.set_module("event", {"dispatch_custom": dispatch_custom, "dispatch_file": dispatch_file})
    # Raw arguments: data is converted here without Lua functions (hooks get plain data).
    module["dispatch"] = sandbox.function(dispatch, raw_args=True)
