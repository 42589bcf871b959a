"""State values on disk: JSON text plus a type tag, so a value reads back with its Lua type.

Storable: str, bool, int, float, None inside tables, and nested dict/list/tuple of these. A dict
whose keys are not all strings (a Lua table such as `{[1] = "a", [5] = "b"}`) is kept as a list of
pairs under a marker key, so its integer keys come back as integers. The encoded JSON of one
value may not exceed MAX_VALUE_BYTES (1 MiB).
"""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

from sloth_engine.errors import StateValueError

MAX_VALUE_BYTES = 1024 * 1024
"""Largest encoded value (JSON, UTF-8) a state key may hold: 1 MiB."""

ValueType = Literal["string", "integer", "number", "boolean", "table"]

_MAP_MARK = "\x00map"
_MAP_MARK_JSON = json.dumps(_MAP_MARK)[1:-1]
_MAX_DEPTH = 200
_SCALAR_TYPES: dict[type, ValueType] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
}
_encoder = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


class Encoded(NamedTuple):
    """A value `encode` already checked and encoded (say on the Lua thread): stored as is."""

    text: str
    kind: ValueType

    def value(self) -> Any:
        return decode(self.text, self.kind)


def encode(key: str, value: Any) -> tuple[str, ValueType]:
    """JSON text and type tag for `value`; StateValueError naming `key` if it cannot be stored."""
    if type(value) is Encoded:
        return value.text, value.kind
    kind = _SCALAR_TYPES.get(type(value))
    if kind is not None:
        text = _encoder.encode(value)
    elif isinstance(value, (dict, list, tuple)):
        kind = "table"
        text = _encoder.encode(_plain(key, value, 0, set()))
    else:
        raise StateValueError(key, f"a value of type {_type_name(value)} cannot be stored")
    if len(text) * 4 > MAX_VALUE_BYTES and len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        size = len(text.encode("utf-8"))
        raise StateValueError(key, f"value is {size} bytes encoded, over the {MAX_VALUE_BYTES} byte limit")
    return text, kind


def decode(text: str, kind: str) -> Any:
    """The value stored as `text` with type tag `kind`."""
    if kind == "table" and _MAP_MARK_JSON in text:
        return json.loads(text, object_hook=_from_pairs)
    return json.loads(text)


def same(a: Any, b: Any) -> bool:
    """Equality as Lua sees it: 1 == 1.0, true ~= 1, tables compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (dict, list, tuple)) and isinstance(b, (dict, list, tuple)):
        return _same_table(a, b)
    return type(a) is type(b) and a == b


def _same_table(a: Any, b: Any) -> bool:
    left, right = _as_mapping(a), _as_mapping(b)
    if left.keys() != right.keys():
        return False
    return all(same(left[k], right[k]) for k in left)


def _as_mapping(table: Any) -> dict[Any, Any]:
    if isinstance(table, dict):
        return table
    return {index: item for index, item in enumerate(table, 1)}


def _plain(key: str, value: Any, depth: int, path: set[int]) -> Any:
    """A JSON-ready copy of a table value, checking types, cycles and depth."""
    if value is None or type(value) in _SCALAR_TYPES:
        return value
    if not isinstance(value, (dict, list, tuple)):
        raise StateValueError(key, f"a value of type {_type_name(value)} cannot be stored")
    if depth > _MAX_DEPTH:
        raise StateValueError(key, f"table nested deeper than {_MAX_DEPTH} levels")
    if id(value) in path:
        raise StateValueError(key, "a cyclic table cannot be stored")
    path.add(id(value))
    try:
        if not isinstance(value, dict):
            return [_plain(key, item, depth + 1, path) for item in value]
        if all(type(k) is str for k in value):
            return {k: _plain(key, v, depth + 1, path) for k, v in value.items()}
        pairs = []
        for k, v in value.items():
            if type(k) not in _SCALAR_TYPES:
                raise StateValueError(key, f"a table key of type {_type_name(k)} cannot be stored")
            pairs.append([k, _plain(key, v, depth + 1, path)])
        return {_MAP_MARK: pairs}
    finally:
        path.discard(id(value))


def _from_pairs(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _MAP_MARK in obj:
        return dict(obj[_MAP_MARK])
    return obj


def _type_name(value: Any) -> str:
    if callable(value):
        return "function"
    return type(value).__name__
