"""The `resources` table: what a stack manages, registered by tasks through the `stack` module.

A resource is identified by (stack, type, name). Registering it again compares the checksum of
its properties: "created", "changed" or "unchanged". Each registration records the task, the
workflow and the run that produced it, so drift fix knows which task to run again.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sloth_engine.errors import StackError, UsageError
from sloth_engine.store import Store
from sloth_engine.store.backend import Rollback
from sloth_engine.store.stack_records import (
    RESOURCE_COLUMNS,
    RESOURCE_FIELDS,
    RegisterOutcome,
    ResourceRecord,
    checksum,
    resource_record,
    to_json,
)

_SELECT = f"SELECT {RESOURCE_COLUMNS} FROM resources"
_UPSERT = (
    f"INSERT INTO resources ({RESOURCE_COLUMNS}) VALUES ({', '.join('?' * len(RESOURCE_FIELDS))}) "
    'ON CONFLICT (stack, "type", "name") DO UPDATE SET properties = excluded.properties, '
    "checksum = excluded.checksum, depends_on = excluded.depends_on, probe = excluded.probe, "
    'probe_kind = excluded.probe_kind, module = excluded.module, "state" = excluded."state", '
    "error = NULL, task = excluded.task, workflow = excluded.workflow, run_id = excluded.run_id, "
    "file = CASE WHEN excluded.file = '' THEN resources.file ELSE excluded.file END, "
    "updated_at = excluded.updated_at"
)
_WHERE_ONE = ' WHERE stack = ? AND "type" = ? AND "name" = ?'
METADATA_KEYS = frozenset({"state", "error"})


class ResourceSpec(NamedTuple):
    """What a task declares: `properties_json` is the canonical JSON of the properties."""

    type: str
    name: str
    properties_json: str
    depends_on: list[str]
    probe: str | None = None
    probe_kind: str | None = None
    module: str = ""


class Origin(NamedTuple):
    """Who registered a resource: the task, workflow, file and run."""

    task: str = ""
    workflow: str = ""
    run_id: str | None = None
    file: str = ""


class ResourceTable:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._b = store.backend
        self.clock = clock
        sql = self._b.sql
        self._get_sql = sql(_SELECT + _WHERE_ONE)
        self._checksum_sql = sql("SELECT checksum, created_at FROM resources" + _WHERE_ONE)
        self._upsert_sql = sql(_UPSERT)
        self._list_sql = sql(_SELECT + ' WHERE stack = ? ORDER BY "type", "name"')

    # ---- reads ----------------------------------------------------------------------

    def get(self, stack: str, type_: str, name: str) -> ResourceRecord | None:
        row = self._b.query_one(self._get_sql, (stack, type_, name))
        return resource_record(row) if row else None

    def find(self, stack: str, name: str) -> ResourceRecord | None:
        """By name alone (`type.name` also accepted); StackError if the name is ambiguous."""
        matches = [r for r in self.list(stack) if r.name == name or r.key == name]
        if len(matches) > 1:
            kinds = ", ".join(r.key for r in matches)
            raise StackError(f"resource name '{name}' is ambiguous in stack '{stack}': {kinds}")
        return matches[0] if matches else None

    def list(self, stack: str) -> list[ResourceRecord]:
        return [resource_record(r) for r in self.rows(stack)]

    def rows(self, stack: str) -> builtins.list[tuple[Any, ...]]:
        """Raw rows in RESOURCE_FIELDS order (snapshots keep them as they are)."""
        return self._b.query_all(self._list_sql, (stack,))

    def count(self, stack: str) -> int:
        row = self._b.query_one(self._b.sql("SELECT COUNT(*) FROM resources WHERE stack = ?"), (stack,))
        return int(row[0]) if row else 0

    # ---- writes ---------------------------------------------------------------------

    def register(
        self, stack: str, spec: ResourceSpec, origin: Origin
    ) -> tuple[RegisterOutcome, ResourceRecord]:
        """Insert or update the resource; whether it was created, changed or unchanged."""
        _check_identity(spec.type, spec.name)
        digest = checksum(json.loads(spec.properties_json))
        now = self.clock()
        before = self._b.query_one(self._checksum_sql, (stack, spec.type, spec.name))
        row = (
            stack,
            spec.type,
            spec.name,
            spec.properties_json,
            digest,
            to_json(list(spec.depends_on)),
            spec.probe,
            spec.probe_kind,
            spec.module,
            "active",
            None,
            origin.task,
            origin.workflow,
            origin.file,
            origin.run_id,
            before[1] if before else now,
            now,
        )
        self._b.execute(self._upsert_sql, row)
        if before is None:
            outcome = RegisterOutcome.CREATED
        else:
            outcome = RegisterOutcome.UNCHANGED if before[0] == digest else RegisterOutcome.CHANGED
        record = self.get(stack, spec.type, spec.name)
        assert record is not None
        return outcome, record

    def update(self, stack: str, type_: str, name: str, changes: dict[str, Any]) -> ResourceRecord:
        """`state` / `error` set those columns; `properties` (a table) and every other key are
        merged into the properties (the checksum follows)."""
        found: list[ResourceRecord] = []
        with self._b.transaction():
            row = self._b.query_one(self._get_sql, (stack, type_, name))
            if row is None:
                raise Rollback
            current = resource_record(row)
            properties = dict(current.properties)
            merged = changes.get("properties")
            if isinstance(merged, dict):
                properties.update(merged)
            properties.update({k: v for k, v in changes.items() if k not in METADATA_KEYS | {"properties"}})
            state = str(changes.get("state", current.state))
            error = changes.get("error", current.error)
            sql = (
                'UPDATE resources SET properties = ?, checksum = ?, "state" = ?, error = ?, updated_at = ?'
                + _WHERE_ONE
            )
            params = (
                to_json(properties),
                checksum(properties),
                state,
                error,
                self.clock(),
                stack,
                type_,
                name,
            )
            self._b.execute(self._b.sql(sql), params)
            found.append(current._replace(properties=properties, state=state, error=error))
        if not found:
            raise StackError(f"no resource {type_}.{name} in stack '{stack}'")
        return self.get(stack, type_, name) or found[0]

    def delete(self, stack: str, type_: str, name: str) -> bool:
        sql = self._b.sql("DELETE FROM resources" + _WHERE_ONE + " RETURNING 1")
        return bool(self._b.write(sql, (stack, type_, name)))

    def replace_all(self, stack: str, rows: Sequence[Sequence[Any]]) -> None:
        """Inside a transaction: the stack's resources become exactly `rows` (a snapshot's)."""
        self._b.execute(self._b.sql("DELETE FROM resources WHERE stack = ?"), (stack,))
        head = f"INSERT INTO resources ({RESOURCE_COLUMNS})"
        self._b.insert_rows(head, len(RESOURCE_FIELDS), "", [(stack, *r[1:]) for r in rows])

    def copy_from_snapshot(self, stack: str, version: int) -> None:
        """Inside a transaction, on PostgreSQL: the stack's resources become those of snapshot
        `version`, unpacked by the server (no rows travel; the body must have today's columns)."""
        items = []
        for i, name in enumerate(RESOURCE_FIELDS):
            item = f"r.item ->> {i}"
            items.append(f"CAST({item} AS DOUBLE PRECISION)" if name.endswith("_at") else item)
        self._b.execute(self._b.sql("DELETE FROM resources WHERE stack = ?"), (stack,))
        sql = (
            f"INSERT INTO resources ({RESOURCE_COLUMNS}) SELECT {', '.join(items)} FROM stack_versions v, "
            "json_array_elements(CAST(v.resources AS json) -> 'rows') AS r(item) "
            "WHERE v.stack = ? AND v.version = ?"
        )
        self._b.execute(self._b.sql(sql), (stack, version))

    def settle_run(self, stack: str, run_id: str, file: str, full: bool) -> int:
        """After a run: record its file on what it registered; after a full successful run,
        resources it did not declare again become `orphaned` (extra-resource drift)."""
        sql = "UPDATE resources SET file = ? WHERE stack = ? AND run_id = ?"
        self._b.execute(self._b.sql(sql), (file, stack, run_id))
        if not full:
            return 0
        sql = (
            "UPDATE resources SET \"state\" = 'orphaned' WHERE stack = ? "
            "AND (run_id IS NULL OR run_id <> ?) AND \"state\" <> 'orphaned' RETURNING 1"
        )
        return len(self._b.write(self._b.sql(sql), (stack, run_id)))


def _check_identity(type_: str, name: str) -> None:
    for what, value in (("type", type_), ("name", name)):
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"a resource needs a non-empty {what}")
