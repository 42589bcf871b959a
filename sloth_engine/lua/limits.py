"""The bounds on what may enter a Lua runtime, and the memory a value will cost there.

Lua allocates outside a protected call when Python builds tables or pushes strings; if that
crosses the runtime's `max_memory`, Lua calls abort() and the whole process dies. So every
value is measured before it is converted: `lua_cost` gives an upper bound of the bytes Lua
will allocate for it (tables grow by doubling, so each entry is charged its worst case), and
the conversion is refused with "memory limit exceeded" when that does not fit.
"""

from __future__ import annotations

from typing import Any

MiB = 1024 * 1024
MAX_DEPTH = 200
"""Deepest nesting of tables converted in either direction."""
MAX_READ_BYTES = 16 * MiB
"""Default bound on one text read into Lua: each stream of exec.run, fs.read, an HTTP body."""
HEADROOM = 256 * 1024
"""Bytes kept free under the memory limit for Lua's own small unprotected allocations."""

TABLE_COST = 96
"""A table header (56 bytes) with room to spare."""
ENTRY_COST = 80
"""One entry at worst: a 24-byte hash node, doubled by growth, plus the old part while it rehashes."""
STRING_COST = 48
"""The header of a Lua string and its slot in the string table."""


class TooLarge(Exception):
    """A value that cannot enter Lua: too deep (`deep`), or larger than `cap` bytes once converted."""

    def __init__(self, message: str, deep: bool = False) -> None:
        super().__init__(message)
        self.deep = deep


def lua_cost(value: Any, cap: int) -> int:
    """An upper bound of the bytes Lua allocates to hold `value`; TooLarge beyond `cap` bytes
    or MAX_DEPTH levels. Iterative, so a deep value costs no Python recursion."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if item is None or isinstance(item, (bool, int, float)):
            continue
        if isinstance(item, str):
            total += STRING_COST + len(item) * 4 if not item.isascii() else STRING_COST + len(item)
        elif isinstance(item, bytes):
            total += STRING_COST + len(item) * 3
        elif isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise TooLarge(f"value nested deeper than {MAX_DEPTH} levels", deep=True)
            total += TABLE_COST + ENTRY_COST * len(item)
            stack.extend((key, depth + 1) for key in item)
            stack.extend((sub, depth + 1) for sub in item.values())
        elif isinstance(item, (list, tuple)):
            if depth >= MAX_DEPTH:
                raise TooLarge(f"value nested deeper than {MAX_DEPTH} levels", deep=True)
            total += TABLE_COST + ENTRY_COST * len(item)
            stack.extend((sub, depth + 1) for sub in item)
        else:
            total += STRING_COST + 64  # a Lua object already there, or its str()
        if total > cap:
            raise TooLarge(f"value needs more than {cap // MiB} MB of Lua memory")
    return total
