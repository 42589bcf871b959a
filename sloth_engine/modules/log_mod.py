"""`log`: lines into the current task's log (never the host's stdout).

Each call is one entry: `[INFO] message` on stdout for info/debug/success/print (print has no
tag), `[WARN]`/`[ERROR]` on stderr for warn/warning/error. Several arguments are joined by
spaces; values are shown as Lua's `tostring` would, except plain tables, which are rendered
inline. A message spanning several lines becomes several log lines, each tagged.
`log.table(t[, title])` pretty-prints a table, one log line per line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox, lua_type
from sloth_engine.modules import ModuleEnv

_LEVELS: dict[str, tuple[str, str]] = {
    "info": ("stdout", "[INFO] "),
    "debug": ("stdout", "[DEBUG] "),
    "success": ("stdout", "[SUCCESS] "),
    "print": ("stdout", ""),
    "warn": ("stderr", "[WARN] "),
    "warning": ("stderr", "[WARN] "),
    "error": ("stderr", "[ERROR] "),
}

# tostring for anything, and whether a table brings its own __tostring (exec results do).
_HELPERS = """
local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__tostring ~= nil
end
return tostring, has_tostring
"""


def render(value: Any, indent: int = 0, compact: bool = False) -> str:
    """Plain Python data (from a Lua table) as Lua-looking text."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (int, float)):
        return str(value)
    if lua_type(value) is not None:
        return f"<{lua_type(value)}>"
    if isinstance(value, list):
        items = [render(item, indent + 1, compact) for item in value]
    elif isinstance(value, dict):
        keys = sorted(value, key=lambda k: (not isinstance(k, (int, float)), str(k)))
        items = [f"{_key(k)} = {render(value[k], indent + 1, compact)}" for k in keys]
    else:
        return str(value)
    if not items:
        return "{}"
    if compact:
        return "{ " + ", ".join(items) + " }"
    pad = "  " * (indent + 1)
    return "{\n" + "".join(f"{pad}{item},\n" for item in items) + "  " * indent + "}"


def _key(key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return key
    return f"[{render(key)}]"


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    tostring, has_tostring = sandbox.run_lua(_HELPERS, "log")

    def text(value: Any) -> str:
        if lua_type(value) == "table" and not has_tostring(value):
            try:
                return render(sandbox.to_py(value), compact=True)
            except ModuleError:
                pass  # cyclic or odd keys: fall back to Lua's own text
        return str(tostring(value))

    def emit(level: str, message: str) -> None:
        stream, tag = _LEVELS[level]
        for line in message.rstrip("\n").split("\n"):
            sandbox.scope.log(stream, tag + line)

    def writer(level: str) -> Callable[..., None]:
        def write(*args: Any) -> None:
            emit(level, " ".join(text(a) for a in args))

        return write

    def table(value: Any = None, title: Any = None) -> None:
        heading = f"{text(title)}:" if title is not None else "table:"
        if lua_type(value) == "table" and not has_tostring(value):
            try:
                body = render(sandbox.to_py(value))
            except ModuleError as exc:
                body = f"<{exc}>"
        else:
            body = text(value)
        emit("info", heading + "\n" + body)

    module = sandbox.set_module("log", {})
    for level in _LEVELS:
        module[level] = sandbox.function(writer(level), raw_args=True)
    module["table"] = sandbox.function(table, raw_args=True)
