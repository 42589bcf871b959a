"""The `agents` table: one row per agent name, upserted in batches (raw SQL on the store)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sloth_engine.store import Store
from sloth_engine.store.events import EVENT_HEAD, EVENT_WIDTH, event_row

FIELDS = (
    "name",
    "instance_id",
    "address",
    "tags",
    "status",
    "version",
    "max_tasks",
    "heartbeat_interval_s",
    "registered_at",
    "connected_at",
    "last_heartbeat",
    "disconnected_at",
    "metrics",
    "facts",
    "modules",
)
JSON_FIELDS = ("tags", "metrics", "facts", "modules")
_HEAD = f"INSERT INTO agents ({', '.join(FIELDS)})"
_TAIL = "ON CONFLICT (name) DO UPDATE SET " + ", ".join(
    f"{f} = excluded.{f}" for f in FIELDS if f not in ("name", "registered_at")
)


class AgentTable(Protocol):
    """What the master's registry needs of the agents table (AgentRows, or a wrapper of it)."""

    def load(self) -> list[dict[str, Any]]: ...

    def save(self, rows: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]) -> None: ...


class AgentRows:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self) -> list[dict[str, Any]]:
        backend = self.store.backend
        rows = backend.query_all(backend.sql(f"SELECT {', '.join(FIELDS)} FROM agents ORDER BY name"))
        out = []
        for row in rows:
            item = dict(zip(FIELDS, row, strict=True))
            for key in JSON_FIELDS:
                item[key] = json.loads(item[key]) if item[key] else None
            out.append(item)
        return out

    def save(self, rows: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]) -> None:
        """Upsert agent rows and append events, in one transaction."""
        backend = self.store.backend
        values = [
            tuple(json.dumps(r[f], default=str) if f in JSON_FIELDS else r[f] for f in FIELDS) for r in rows
        ]
        with backend.transaction():
            if values:
                backend.insert_rows(_HEAD, len(FIELDS), _TAIL, values)
            if events:
                backend.insert_rows(EVENT_HEAD, EVENT_WIDTH, "", [event_row(e, e["ts"]) for e in events])
