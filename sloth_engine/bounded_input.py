"""Bounds on the data a user hands to a run (values, params), checked before and after parsing.

The text is measured before it is parsed, so parsing time is bounded; the parsed value is
then walked once, counting every node it expands to (a YAML alias is counted each time it
is used, which bounds an alias bomb) and its depth, before anything converts it further
(into JSON for a master, or into Lua tables, where an expansion would balloon).
"""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.errors import UsageError

MAX_INPUT_BYTES = 4 * 1024 * 1024
"""Largest values file, values_json or params_json accepted."""
MAX_INPUT_DEPTH = 64
"""Deepest nesting of lists and mappings in values and params."""
MAX_INPUT_NODES = 200_000
"""Most values (scalars, lists, mappings) one input may expand to."""


def check_size(size: int, what: str) -> None:
    if size > MAX_INPUT_BYTES:
        raise UsageError(f"{what} is {size} bytes, over the {MAX_INPUT_BYTES} byte limit")


def check_shape(value: Any, what: str) -> None:
    """UsageError if `value` is nested deeper than MAX_INPUT_DEPTH or expands to more than
    MAX_INPUT_NODES values (shared or cyclic references count at every use)."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_INPUT_NODES:
            raise UsageError(
                f"{what} expands to more than {MAX_INPUT_NODES} values (each use of a YAML alias counts)"
            )
        if isinstance(item, (dict, list, tuple)):
            if depth >= MAX_INPUT_DEPTH:
                raise UsageError(f"{what} is nested deeper than {MAX_INPUT_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object from untrusted bytes, within the bounds; UsageError otherwise."""
    if not data:
        return {}
    check_size(len(data), what)
    try:
        value = json.loads(data)
    except RecursionError:
        raise UsageError(f"{what} is nested deeper than {MAX_INPUT_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object")
    check_shape(value, what)
    return value
