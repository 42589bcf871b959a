"""The `stacks` table: create, read, list and delete stacks; their outputs and run bookkeeping.

The stack repositories (this module, `resources`, `snapshots`, `stack_deps`, `drift`) sit in the
store so that the Lua `stack` module (below `sloth_engine.stacks`) can reach stack data.

Every change that a user would want in the audit trail is also an event (`stack.created`,
`stack.updated`, `stack.destroyed`, `stack.execution.*`), written with `emit`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from sloth_engine.errors import StackError, UsageError
from sloth_engine.store import Store
from sloth_engine.store.backend import Rollback
from sloth_engine.store.stack_records import STACK_COLUMNS, StackInfo, StackStatus, stack_info, to_json

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")

_INSERT = (
    "INSERT INTO stacks (name, description, workflow_file, workflow, status, created_at, updated_at, "
    "execution_count, outputs, last_version) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '{}', 0) "
    "ON CONFLICT (name) DO NOTHING RETURNING name"
)
_SELECT = f"SELECT {STACK_COLUMNS} FROM stacks"
_LOCK_ROW = "UPDATE stacks SET updated_at = updated_at WHERE name = ? RETURNING outputs"
"""Inside a transaction: lock the stack's row (PostgreSQL) and read its outputs."""
_DELETES = (
    "DELETE FROM resources WHERE stack = ?",
    "DELETE FROM stack_versions WHERE stack = ?",
    "DELETE FROM drift_detections WHERE stack = ?",
    "DELETE FROM stack_dependencies WHERE stack = ?",
    "DELETE FROM stack_locks WHERE name = ?",
    "DELETE FROM stacks WHERE name = ?",
)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid stack name {name!r}: letters, digits and _ . : - (starting with a letter or digit)"
        )
    return name


class StackCatalog:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._b = store.backend
        self.clock = clock

    # ---- events ---------------------------------------------------------------------

    def emit(
        self,
        kind: str,
        stack: str,
        data: dict[str, Any] | None = None,
        run_id: str | None = None,
        severity: str = "info",
    ) -> None:
        self.store.events.append(kind, {"stack": stack, **(data or {})}, severity, "stacks", stack, run_id)

    # ---- reads ----------------------------------------------------------------------

    def get(self, name: str) -> StackInfo | None:
        row = self._b.query_one(self._b.sql(f"{_SELECT} WHERE name = ?"), (name,))
        return stack_info(row) if row else None

    def require(self, name: str) -> StackInfo:
        info = self.get(name)
        if info is None:
            raise StackError(f"no stack '{name}' (create it with `stack new {name}`)")
        return info

    def list(self) -> list[StackInfo]:
        rows = self._b.query_all(f"{_SELECT} ORDER BY name")
        return [stack_info(r) for r in rows]

    def names(self) -> set[str]:
        return {r[0] for r in self._b.query_all("SELECT name FROM stacks")}

    def outputs(self, name: str) -> dict[str, Any]:
        row = self._b.query_one(self._b.sql("SELECT outputs FROM stacks WHERE name = ?"), (name,))
        return json.loads(row[0]) if row and row[0] else {}

    # ---- writes ---------------------------------------------------------------------

    def create(
        self, name: str, description: str = "", workflow_file: str = "", source: str = "cli"
    ) -> StackInfo:
        """A new stack; StackError if the name is taken."""
        if not self._insert(check_name(name), description, workflow_file, ""):
            raise StackError(f"stack '{name}' exists already")
        self.emit(
            "stack.created", name, {"description": description, "workflow_file": workflow_file, "by": source}
        )
        return self.require(name)

    def ensure(self, name: str, workflow_file: str = "", workflow: str = "") -> bool:
        """Create the stack if it does not exist (a run naming it); True if it was created."""
        created = self._insert(check_name(name), "", workflow_file, workflow)
        if created:
            self.emit("stack.created", name, {"workflow_file": workflow_file, "by": "run"})
        return created

    def _insert(self, name: str, description: str, workflow_file: str, workflow: str) -> bool:
        now = self.clock()
        params = (name, description, workflow_file, workflow, StackStatus.CREATED.value, now, now)
        return bool(self._b.write(self._b.sql(_INSERT), params))

    def update(self, name: str, **fields: Any) -> None:
        """Set description / workflow_file / workflow / status; emits stack.updated."""
        allowed = {"description", "workflow_file", "workflow", "status"}
        unknown = set(fields) - allowed
        if unknown:
            raise UsageError(f"cannot update {', '.join(sorted(unknown))} of a stack")
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        params = (*fields.values(), self.clock(), name)
        if not self._b.write(
            self._b.sql(f"UPDATE stacks SET {sets}, updated_at = ? WHERE name = ? RETURNING 1"), params
        ):
            raise StackError(f"no stack '{name}'")
        self.emit("stack.updated", name, dict(fields))

    def delete(self, name: str) -> None:
        """Remove the stack with its resources, snapshots, drift reports, dependencies and lock."""
        self.require(name)
        with self._b.transaction():
            for sql in _DELETES:
                self._b.execute(self._b.sql(sql), (name,))
        self.emit("stack.destroyed", name, {})

    # ---- outputs --------------------------------------------------------------------

    def set_output(self, name: str, key: str, value: Any) -> None:
        """Set (value None: remove) one output, creating the stack if needed."""
        self.ensure(name)
        self._change_outputs(name, lambda outputs: _put(outputs, key, value))

    def replace_outputs(self, name: str, outputs: dict[str, Any]) -> None:
        self._b.execute(
            self._b.sql("UPDATE stacks SET outputs = ?, updated_at = ? WHERE name = ?"),
            (to_json(outputs), self.clock(), name),
        )

    def _change_outputs(self, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        with self._b.transaction():
            rows = self._b.write(self._b.sql(_LOCK_ROW), (name,))
            if not rows:
                raise Rollback
            outputs = json.loads(rows[0][0]) if rows[0][0] else {}
            change(outputs)
            self._b.execute(
                self._b.sql("UPDATE stacks SET outputs = ?, updated_at = ? WHERE name = ?"),
                (to_json(outputs), self.clock(), name),
            )

    # ---- runs -----------------------------------------------------------------------

    def run_started(self, name: str, run_id: str, workflow: str, workflow_file: str) -> None:
        sql = "UPDATE stacks SET status = ?, workflow = ?, workflow_file = ?, updated_at = ? WHERE name = ?"
        now = self.clock()
        self._b.execute(self._b.sql(sql), (StackStatus.RUNNING.value, workflow, workflow_file, now, name))

    def run_finished(
        self, name: str, run_id: str, status: StackStatus, started_at: float, duration_s: float
    ) -> None:
        sql = (
            "UPDATE stacks SET status = ?, execution_count = execution_count + 1, last_run_id = ?, "
            "last_run_at = ?, last_duration_s = ?, updated_at = ? WHERE name = ?"
        )
        params = (status.value, run_id, started_at, duration_s, self.clock(), name)
        self._b.execute(self._b.sql(sql), params)

    def next_version(self, name: str) -> int:
        """Inside a transaction: hand out the stack's next snapshot number."""
        sql = "UPDATE stacks SET last_version = last_version + 1 WHERE name = ? RETURNING last_version"
        rows = self._b.write(self._b.sql(sql), (name,))
        if not rows:
            raise StackError(f"no stack '{name}'")
        return int(rows[0][0])


def _put(outputs: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        outputs.pop(key, None)
    else:
        outputs[key] = value
