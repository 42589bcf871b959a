"""The `stack_dependencies` table: edges "stack depends on stack" (the graph maths is in stacks.deps)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sloth_engine.store import Store

_ADD = (
    "INSERT INTO stack_dependencies (stack, depends_on, created_at) VALUES (?, ?, ?) "
    "ON CONFLICT (stack, depends_on) DO NOTHING RETURNING 1"
)
_REMOVE = "DELETE FROM stack_dependencies WHERE stack = ? AND depends_on = ? RETURNING 1"


class DependencyRows:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._b = store.backend
        self.clock = clock

    def add(self, stack: str, depends_on: str) -> bool:
        """Record the edge; False if it was there already."""
        return bool(self._b.write(self._b.sql(_ADD), (stack, depends_on, self.clock())))

    def remove(self, stack: str, depends_on: str) -> bool:
        """Drop the edge; False if there was none."""
        return bool(self._b.write(self._b.sql(_REMOVE), (stack, depends_on)))

    def edges(self) -> list[tuple[str, str]]:
        """Every (stack, depends_on) pair."""
        return [(r[0], r[1]) for r in self._b.query_all("SELECT stack, depends_on FROM stack_dependencies")]
