"""The events table: the audit trail of everything that happened (runs, locks, agents, ...).

Appends are raw SQL; filtered reads use the peewee models, imported inside the readers: peewee
takes ~30 ms to import, which a run that never lists events should not pay.
"""

from __future__ import annotations

import builtins
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from json.encoder import encode_basestring_ascii
from typing import Any

from sloth_engine.store.backend import Backend

_plain_json = json.JSONEncoder(default=str, separators=(",", ":")).encode
c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)

_encoders = threading.local()


def to_json(value: Any) -> str:
    """JSON text of run data (params, outputs, event data): anything odd becomes its str().

    One C encoder per thread, made once (json.dumps makes one per call: a third of the cost
    of encoding an event's data); its circular-reference markers are emptied after a failure.
    """
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return _plain_json(value)
    try:
        encode, markers = _encoders.pair
    except AttributeError:
        markers = {}
        encode = c_make_encoder(markers, str, encode_basestring_ascii, None, ":", ",", False, False, True)
        _encoders.pair = encode, markers
    try:
        return "".join(encode(value, 0))
    except BaseException:
        markers.clear()
        raise


EVENT_HEAD = "INSERT INTO events (ts, type, severity, source, stack, run_id, data)"
EVENT_WIDTH = 7


@dataclass(frozen=True)
class EventRecord:
    """One stored event."""

    id: int
    ts: float
    type: str
    severity: str
    source: str
    stack: str | None
    run_id: str | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The event as the bus, its hooks and watchers, and the CLI's JSON carry it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def event_row(event: Mapping[str, Any], now: float) -> tuple[Any, ...]:
    """The events row for a dict with keys type, data, severity, source, stack, run_id, ts."""
    data = event.get("data")
    return (
        event.get("ts") or now,
        event["type"],
        event.get("severity") or "info",
        event.get("source") or "",
        event.get("stack"),
        event.get("run_id"),
        to_json(data if data is not None else {}),
    )


class EventLog:
    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self._b = backend
        self.clock = clock
        self._append_sql = backend.sql(f"{EVENT_HEAD} VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")

    def append(
        self,
        type: str,
        data: Mapping[str, Any] | None = None,
        severity: str = "info",
        source: str = "",
        stack: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Record one event now; its id."""
        event = {
            "type": type,
            "data": data,
            "severity": severity,
            "source": source,
            "stack": stack,
            "run_id": run_id,
        }
        rows = self._b.write(self._append_sql, event_row(event, self.clock()))
        return int(rows[0][0]) if rows else 0

    def append_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        now = self.clock()
        rows = [event_row(e, now) for e in events]
        with self._b.transaction():
            self._b.insert_rows(EVENT_HEAD, EVENT_WIDTH, "", rows)

    def list(
        self,
        type_prefix: str | None = None,
        since: float | None = None,
        stack: str | None = None,
        limit: int = 100,
    ) -> list[EventRecord]:
        """Events in time order: the newest `limit`, or with `since` (a timestamp) the first
        `limit` after it. `type_prefix` 'task.' matches 'task.failed'."""
        from peewee import fn

        from sloth_engine.store.models import Event as E  # lazy: peewee (~50 ms) on the first model read

        query = E.select().limit(int(limit))
        if type_prefix:
            query = query.where(fn.substr(E.type, 1, len(type_prefix)) == type_prefix)
        if since is not None:
            query = query.where(E.ts > since)
        if stack is not None:
            query = query.where(E.stack == stack)
        query = query.order_by(E.id.asc() if since is not None else E.id.desc())
        rows = [_event(r) for r in self._b.rows_of(query)]
        if since is None:
            rows.reverse()
        return rows

    def get(self, event_id: int) -> EventRecord | None:
        from sloth_engine.store.models import Event as E  # lazy: peewee (~50 ms) on the first model read

        rows = self._b.rows_of(E.select().where(E.id == int(event_id)))
        return _event(rows[0]) if rows else None

    def after(self, after_id: int, limit: int = 500) -> builtins.list[EventRecord]:
        """Events with an id above `after_id`, oldest first (a follower's next page)."""
        from sloth_engine.store.models import Event as E  # lazy: peewee (~50 ms) on the first model read

        query = E.select().where(E.id > int(after_id)).order_by(E.id.asc()).limit(int(limit))
        return [_event(r) for r in self._b.rows_of(query)]

    def last_id(self) -> int:
        row = self._b.query_one("SELECT MAX(id) FROM events")
        return int(row[0]) if row and row[0] is not None else 0

    def delete_before(self, ts: float | None) -> int:
        """Delete events older than `ts` (every event when None); how many went."""
        if ts is None:
            rows = self._b.write("DELETE FROM events RETURNING id")
        else:
            rows = self._b.write(self._b.sql("DELETE FROM events WHERE ts < ? RETURNING id"), (ts,))
        return len(rows)


def _event(row: dict[str, Any]) -> EventRecord:
    row["data"] = json.loads(row["data"]) if row.get("data") else {}
    return EventRecord(**row)
