"""Lua values into plain Python: tables become lists (keys 1..n) or dicts, checked on the way."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import lupa.lua54 as lua54

from sloth_engine.lua.limits import MAX_DEPTH

lua_type = lua54.lua_type
TRACK_FROM_DEPTH = 8


class ModuleError(Exception):
    """Raised by a module function: becomes a Lua error at the caller's line."""


def to_py(
    value: Any, keep_functions: bool, seen: set[str], depth: int, identity: Callable[[Any], str]
) -> Any:
    kind = lua_type(value)
    if kind is None:
        return value
    if kind == "table":
        if depth > MAX_DEPTH:
            raise ModuleError("table nested too deeply")
        # A cycle repeats forever, so it is still caught when tracking starts a few levels
        # down; shallow tables, nearly all of them, skip the identity lookup.
        marker = identity(value) if depth >= TRACK_FROM_DEPTH else ""
        if marker and marker in seen:
            raise ModuleError("cyclic table cannot be converted")
        seen.add(marker)
        try:
            items = list(value.items())
            keys = [k for k, _ in items]
            if keys and all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
                if sorted(keys) == list(range(1, len(keys) + 1)):
                    ordered = sorted(items, key=lambda kv: kv[0])
                    return [to_py(v, keep_functions, seen, depth + 1, identity) for _, v in ordered]
            return {_key(k): to_py(v, keep_functions, seen, depth + 1, identity) for k, v in items}
        finally:
            seen.discard(marker)
    if kind == "function":
        if keep_functions:
            return value
        raise ModuleError("a function cannot be converted to data")
    raise ModuleError(f"a Lua {kind} cannot be converted to data")


def _key(key: Any) -> Any:
    if isinstance(key, (str, int, float, bool)):
        return key
    raise ModuleError(f"table key of type {lua_type(key) or type(key).__name__} cannot be converted")


def iter_array(table: Any) -> Iterable[Any]:
    """Items 1..n of a Lua array table."""
    index = 1
    while True:
        item = table[index]
        if item is None:
            return
        yield item
        index += 1
