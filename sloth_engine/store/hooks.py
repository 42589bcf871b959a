"""The `hooks` and `hook_executions` tables (raw SQL on the store's backend) and event matching.

The event bus (sloth_engine.events) runs the hooks; this module only keeps them.

A hook's event types are patterns: an exact type (`task.failed`), a prefix (`task.*`) or `*`.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sloth_engine.errors import NotFound, UsageError
from sloth_engine.store import Store

Outcome = str
"""success | failed | timeout | dropped (the queue was full)."""
FAILED_OUTCOMES = ("failed", "timeout", "dropped")


class HookDef(NamedTuple):
    name: str
    event_types: tuple[str, ...]
    stack: str | None
    source: str
    path: str
    enabled: bool
    timeout_s: float
    created_at: float
    updated_at: float

    def wants(self, event: Mapping[str, Any]) -> bool:
        """True when this hook should run for the event (type and stack)."""
        if self.stack is not None and event.get("stack") != self.stack:
            return False
        return matches(self.event_types, event["type"])


class ExecutionRow(NamedTuple):
    hook: str
    event_id: int | None
    event_type: str
    run_id: str | None
    started_at: float
    duration_s: float
    outcome: Outcome
    output: str
    error: str | None


_HOOK_FIELDS = HookDef._fields
"""The hooks table's columns: the record's fields, declared once (HookDef)."""
_EXEC_FIELDS = ExecutionRow._fields
_EXEC_HEAD = f"INSERT INTO hook_executions ({', '.join(_EXEC_FIELDS)})"


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern == event_type or pattern == "*":
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


class HookStore:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._b = store.backend
        self.clock = clock
        sql = self._b.sql
        self._select = sql(f"SELECT {', '.join(_HOOK_FIELDS)} FROM hooks")
        self._insert = sql(
            f"INSERT INTO hooks ({', '.join(_HOOK_FIELDS)}) VALUES ({', '.join('?' * len(_HOOK_FIELDS))})"
        )
        self._generation = sql("SELECT COUNT(*), MAX(updated_at) FROM hooks WHERE enabled = 1")

    # ---- hooks --------------------------------------------------------------------------

    def add(
        self,
        name: str,
        source: str,
        event_types: Sequence[str],
        *,
        stack: str | None = None,
        path: str = "",
        timeout_s: float = 30.0,
        replace: bool = False,
    ) -> HookDef:
        if not name.strip():
            raise UsageError("a hook needs a name")
        if not event_types:
            raise UsageError(f"hook '{name}' has no event type (--event or event_types in the file)")
        now = self.clock()
        row = (name, json.dumps(list(event_types)), stack, source, path, 1, timeout_s, now, now)
        with self._b.transaction():
            exists = self._b.query_one(self._b.sql("SELECT created_at FROM hooks WHERE name = ?"), (name,))
            if exists is not None and not replace:
                raise UsageError(f"hook '{name}' exists already (delete it first, or use --replace)")
            if exists is not None:
                self._b.execute(self._b.sql("DELETE FROM hooks WHERE name = ?"), (name,))
                row = (*row[:7], exists[0], now)
            self._b.execute(self._insert, row)
        return self.get(name)

    def get(self, name: str) -> HookDef:
        row = self._b.query_one(self._select + self._b.sql(" WHERE name = ?"), (name,))
        if row is None:
            raise NotFound(f"no hook named '{name}'")
        return _hook(row)

    def list(self) -> list[HookDef]:
        return [_hook(r) for r in self._b.query_all(self._select + " ORDER BY name")]

    def enabled(self) -> builtins.list[HookDef]:
        return [_hook(r) for r in self._b.query_all(self._select + " WHERE enabled = 1 ORDER BY name")]

    def any_enabled(self) -> bool:
        return self._b.query_one("SELECT 1 FROM hooks WHERE enabled = 1 LIMIT 1") is not None

    def generation(self) -> tuple[Any, ...]:
        """Changes whenever an enabled hook is added, changed, disabled or deleted."""
        return tuple(self._b.query_one(self._generation) or ())

    def delete(self, name: str) -> None:
        if not self._b.write(self._b.sql("DELETE FROM hooks WHERE name = ? RETURNING name"), (name,)):
            raise NotFound(f"no hook named '{name}'")

    def set_enabled(self, name: str, enabled: bool) -> None:
        sql = self._b.sql("UPDATE hooks SET enabled = ?, updated_at = ? WHERE name = ? RETURNING name")
        if not self._b.write(sql, (1 if enabled else 0, self.clock(), name)):
            raise NotFound(f"no hook named '{name}'")

    # ---- executions ---------------------------------------------------------------------

    def record(self, rows: Sequence[ExecutionRow]) -> None:
        if rows:
            with self._b.transaction():
                self._b.insert_rows(_EXEC_HEAD, len(_EXEC_FIELDS), "", rows)

    def executions(
        self, name: str | None = None, only_failed: bool = False, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        """The newest executions last (like a log), at most `limit`."""
        where, params = [], []
        if name:
            where.append("hook = ?")
            params.append(name)
        if only_failed:
            where.append(f"outcome IN ({', '.join('?' * len(FAILED_OUTCOMES))})")
            params.extend(FAILED_OUTCOMES)
        sql = f"SELECT id, {', '.join(_EXEC_FIELDS)} FROM hook_executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._b.query_all(self._b.sql(sql), (*params, int(limit)))
        return [dict(zip(("id", *_EXEC_FIELDS), r, strict=True)) for r in reversed(rows)]


def _hook(row: Sequence[Any]) -> HookDef:
    item = dict(zip(_HOOK_FIELDS, row, strict=True))
    item["event_types"] = tuple(json.loads(item["event_types"] or "[]"))
    item["enabled"] = bool(item["enabled"])
    return HookDef(**item)
