"""JSON and YAML codecs for Lua values: what the `data`, `json` and `yaml` modules and the
more formats of `data` (data_more.py) share. Tables whose keys are exactly 1..n encode as
arrays, other tables as objects with string keys, sorted as Go does."""

from __future__ import annotations

import json as _json
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, lua_type


def plain(value: Any) -> Any:
    """Python data ready for a serialiser: string keys, no Lua functions."""
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if lua_type(value) is not None:
        raise ModuleError(f"a Lua {lua_type(value)} cannot be encoded")
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def json_encode(value: Any = None) -> str:
    return _dump(value, None)


def _dump(value: Any, indent: int | None) -> str:
    try:
        return _json.dumps(
            plain(value),
            ensure_ascii=False,
            sort_keys=True,
            allow_nan=False,
            indent=indent,
            separators=(",", ": ") if indent else (",", ":"),
        )
    except ValueError as exc:
        raise ModuleError(f"json encode: {exc}") from None


def json_pretty(value: Any = None, indent: Any = None) -> str:
    return _dump(value, int(indent) if isinstance(indent, (int, float)) else 2)


def json_decode(text: Any) -> Any:
    if not isinstance(text, str):
        raise ModuleError("json decode: expected a string")
    try:
        return _json.loads(text)
    except _json.JSONDecodeError as exc:
        raise ModuleError(f"json decode: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def yaml_encode(value: Any = None) -> str:
    import yaml as _yaml  # imported on use: it costs a whole run's start-up time

    try:
        return _yaml.safe_dump(plain(value), sort_keys=True, allow_unicode=True, default_flow_style=False)
    except _yaml.YAMLError as exc:
        raise ModuleError(f"yaml encode: {exc}") from None


def yaml_decode(text: Any) -> Any:
    if not isinstance(text, str):
        raise ModuleError("yaml decode: expected a string")
    import yaml as _yaml

    try:
        return _yaml.safe_load(text)
    except _yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ModuleError(f"yaml decode: {problem}{where}") from None
