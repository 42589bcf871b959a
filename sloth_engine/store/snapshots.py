"""Snapshots (`stack_versions`): the resources and outputs of a stack at one moment, v1, v2, ...

A snapshot keeps the resource rows as they are stored (one JSON document of columns and rows),
so taking one is a read and one insert, and restoring one is a delete and a batched insert, in
one transaction. Version numbers come from the stack's counter and are never reused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sloth_engine.errors import StackError
from sloth_engine.store.resources import ResourceTable
from sloth_engine.store.stack_records import (
    RESOURCE_FIELDS,
    Snapshot,
    SnapshotInfo,
    parse_version,
    resource_record,
    to_json,
)
from sloth_engine.store.stacks import StackCatalog

_INFO_COLUMNS = "stack, version, description, creator, created_at, run_id, resource_count"
_INSERT = (
    "INSERT INTO stack_versions (stack, version, description, creator, created_at, run_id, "
    "resource_count, resources, outputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class Snapshots:
    def __init__(
        self, catalog: StackCatalog, resources: ResourceTable, clock: Callable[[], float] = time.time
    ) -> None:
        self.catalog = catalog
        self.resources = resources
        self._b = catalog.store.backend
        self.clock = clock

    def create(
        self, stack: str, description: str = "", creator: str = "", run_id: str | None = None
    ) -> SnapshotInfo:
        """Snapshot the stack now; its new version."""
        now = self.clock()
        with self._b.transaction():
            version = self.catalog.next_version(stack)
            rows = self.resources.rows(stack)
            outputs = self._b.query_one(self._b.sql("SELECT outputs FROM stacks WHERE name = ?"), (stack,))
            body = to_json({"columns": RESOURCE_FIELDS, "rows": rows})
            kept = (outputs[0] if outputs else None) or "{}"
            params = (stack, version, description, creator, now, run_id, len(rows), body, kept)
            self._b.execute(self._b.sql(_INSERT), params)
        info = SnapshotInfo(stack, version, description, creator, now, run_id, len(rows))
        data = {"version": info.label, "resources": len(rows), "description": description, "creator": creator}
        self.catalog.emit("snapshot.created", stack, data, run_id)
        return info

    def list(self, stack: str) -> list[SnapshotInfo]:
        sql = self._b.sql(f"SELECT {_INFO_COLUMNS} FROM stack_versions WHERE stack = ? ORDER BY version")
        return [_info(r) for r in self._b.query_all(sql, (stack,))]

    def latest(self, stack: str) -> SnapshotInfo | None:
        sql = f"SELECT {_INFO_COLUMNS} FROM stack_versions WHERE stack = ? ORDER BY version DESC LIMIT 1"
        row = self._b.query_one(self._b.sql(sql), (stack,))
        return _info(row) if row else None

    def get(self, stack: str, version: str | int) -> Snapshot:
        """The snapshot with its content; StackError if there is none."""
        number = _version(version)
        sql = (
            f"SELECT {_INFO_COLUMNS}, resources, outputs FROM stack_versions WHERE stack = ? AND version = ?"
        )
        row = self._b.query_one(self._b.sql(sql), (stack, number))
        if row is None:
            raise StackError(f"stack '{stack}' has no snapshot v{number}")
        rows = _rows(row[7])
        return Snapshot(_info(row[:7]), [resource_record(r) for r in rows], json.loads(row[8] or "{}"))

    def current(self, stack: str) -> Snapshot:
        """The live state, shaped as a snapshot (version 0) for comparisons."""
        info = self.catalog.require(stack)
        records = self.resources.list(stack)
        return Snapshot(
            SnapshotInfo(stack, 0, "current state", "", self.clock(), None, len(records)),
            records,
            info.outputs,
        )

    def restore(
        self, stack: str, version: str | int, by: str = "", run_id: str | None = None
    ) -> SnapshotInfo:
        """Make the stack's resources and outputs exactly those of the snapshot."""
        number = _version(version)
        server_side = self._b.kind == "postgresql"
        body = "substr(resources, 1, 400)" if server_side else "resources"
        sql = f"SELECT {_INFO_COLUMNS}, {{}}, outputs FROM stack_versions WHERE stack = ? AND version = ?"
        with self._b.transaction():
            row = self._b.query_one(self._b.sql(sql.format(body)), (stack, number))
            if row is None:
                raise StackError(f"stack '{stack}' has no snapshot v{number}")
            if server_side and row[7].startswith(_TODAYS_HEAD):
                self.resources.copy_from_snapshot(stack, number)  # PostgreSQL unpacks the rows itself
            else:
                if server_side:
                    row = self._b.query_one(self._b.sql(sql.format("resources")), (stack, number))
                    assert row is not None  # read a moment ago in this transaction
                self.resources.replace_all(stack, _rows(row[7]))
            self._b.execute(
                self._b.sql("UPDATE stacks SET outputs = ?, updated_at = ? WHERE name = ?"),
                (row[8] or "{}", self.clock(), stack),
            )
        info = _info(row[:7])
        self.catalog.emit("snapshot.restored", stack, {"version": info.label, "by": by}, run_id)
        return info

    def delete(self, stack: str, version: str | int) -> None:
        number = _version(version)
        sql = self._b.sql("DELETE FROM stack_versions WHERE stack = ? AND version = ? RETURNING 1")
        if not self._b.write(sql, (stack, number)):
            raise StackError(f"stack '{stack}' has no snapshot v{number}")
        self.catalog.emit("snapshot.deleted", stack, {"version": f"v{number}"})


_TODAYS_HEAD = to_json({"columns": RESOURCE_FIELDS})[:-1]
"""How a snapshot body written with today's resource columns starts."""


def _version(version: str | int) -> int:
    try:
        return parse_version(version)
    except ValueError as exc:
        raise StackError(str(exc)) from None


def _rows(body: str) -> list[list[Any]]:
    """The resource rows of a snapshot body, in today's column order."""
    doc = json.loads(body or "{}")
    columns = doc.get("columns") or []
    rows = doc.get("rows") or []
    if list(columns) == list(RESOURCE_FIELDS):
        return rows
    at = {c: i for i, c in enumerate(columns)}  # written by another version: map by name
    return [[r[at[c]] if c in at else None for c in RESOURCE_FIELDS] for r in rows]


def _info(row: tuple[Any, ...] | list[Any]) -> SnapshotInfo:
    stack, version, description, creator, created_at, run_id, count = row
    return SnapshotInfo(
        stack, int(version), description or "", creator or "", created_at, run_id, int(count or 0)
    )
