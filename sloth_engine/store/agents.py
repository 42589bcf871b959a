"""The `agents` table: one row per agent name (AgentRow), upserted in batches (raw SQL on the store)."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
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


class AgentStatus(enum.StrEnum):
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"
    LOST = "lost"
    OFFLINE = "offline"
    STOPPED = "stopped"


@dataclass
class AgentRow:
    """One row of the agents table: what a master last recorded of an agent. The JSON columns
    (tags, metrics, facts, modules) are None when never written."""

    name: str
    instance_id: str | None
    address: str | None
    tags: dict[str, str] | None
    status: AgentStatus
    version: str | None
    max_tasks: int | None
    heartbeat_interval_s: float | None
    registered_at: float | None
    connected_at: float | None
    last_heartbeat: float | None
    disconnected_at: float | None
    metrics: dict[str, Any] | None
    facts: dict[str, Any] | None
    modules: list[str] | None

    def to_dict(self) -> dict[str, Any]:
        """The row as the CLI's JSON shows it (the table's columns, in order; status as text)."""
        return {f: getattr(self, f) for f in FIELDS}


assert tuple(f.name for f in fields(AgentRow)) == FIELDS


class AgentTable(Protocol):
    """What the master's registry needs of the agents table (AgentRows, or a wrapper of it)."""

    def load(self) -> list[AgentRow]: ...

    def save(self, rows: Sequence[AgentRow], events: Sequence[Mapping[str, Any]]) -> None: ...


class AgentRows:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self) -> list[AgentRow]:
        backend = self.store.backend
        rows = backend.query_all(backend.sql(f"SELECT {', '.join(FIELDS)} FROM agents ORDER BY name"))
        return [_row(dict(zip(FIELDS, row, strict=True))) for row in rows]

    def save(self, rows: Sequence[AgentRow], events: Sequence[Mapping[str, Any]]) -> None:
        """Upsert agent rows and append events, in one transaction."""
        backend = self.store.backend
        values = [_values(r) for r in rows]
        with backend.transaction():
            if values:
                backend.insert_rows(_HEAD, len(FIELDS), _TAIL, values)
            if events:
                backend.insert_rows(EVENT_HEAD, EVENT_WIDTH, "", [event_row(e, e["ts"]) for e in events])


def _row(item: dict[str, Any]) -> AgentRow:
    for key in JSON_FIELDS:
        item[key] = json.loads(item[key]) if item[key] else None
    try:
        item["status"] = AgentStatus(item["status"])
    except ValueError:  # a status this version does not know: the agent is not connected
        item["status"] = AgentStatus.OFFLINE
    return AgentRow(**item)


def _values(row: AgentRow) -> tuple[Any, ...]:
    return tuple(
        json.dumps(getattr(row, f), default=str) if f in JSON_FIELDS else getattr(row, f) for f in FIELDS
    )
