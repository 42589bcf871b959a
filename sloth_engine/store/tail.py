"""Following the store as `tail -f` does: what was added to `events` and `run_logs` since the last read.

Rows are found by id (both tables number their rows in the order they were written).
"""

from __future__ import annotations

from typing import Any

from sloth_engine.store import Store

SOURCES = ("events", "output")
_COLUMNS = {
    "events": ("events", ("id", "ts", "type", "severity", "run_id", "data")),
    "output": ("run_logs", ("id", "ts", "run_id", "task", "attempt", "stream", "line")),
}


class StoreTail:
    """Reads what was added to the events and run_logs tables since the last read (by id)."""

    def __init__(self, store: Store, run_id: str | None, only: str | None) -> None:
        self.backend = store.backend
        self.run_id = run_id
        self.sources = [s for s in SOURCES if only in (None, s)]
        self.last = {"events": 0, "output": 0}

    def _query(self, source: str, newest: int | None) -> list[dict[str, Any]]:
        table, names = _COLUMNS[source]
        if newest is None:
            params: list[Any] = [self.last[source]]
            where, order, limit = "id > ?", "ASC", 1000
        else:  # the last N now; from then on only what comes after everything there is now
            top = self.backend.query_one(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            self.last[source] = int(top[0]) if top else 0
            params = [self.last[source]]
            where, order, limit = "id <= ?", "DESC", newest
        if self.run_id:
            where += " AND run_id = ?"
            params.append(self.run_id)
        sql = f"SELECT {', '.join(names)} FROM {table} WHERE {where} ORDER BY id {order} LIMIT {int(limit)}"
        rows = self.backend.query_all(self.backend.sql(sql), params)
        found = [dict(zip(names, row, strict=True)) | {"source": source} for row in rows]
        found.sort(key=lambda r: r["id"])
        if newest is None and found:
            self.last[source] = found[-1]["id"]
        return found

    def read(self, newest: int | None = None) -> list[dict[str, Any]]:
        """What was added, oldest first; `newest`: only the last N of each table."""
        rows = [row for source in self.sources for row in self._query(source, newest)]
        rows.sort(key=lambda r: (r["ts"], r["source"], r["id"]))
        return rows[-newest:] if newest is not None and newest > 0 else rows
