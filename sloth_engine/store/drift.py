"""The `drift_detections` table: one row per drift detection of a stack (findings as JSON)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sloth_engine.store import Store
from sloth_engine.store.stack_records import to_json

_COLUMNS = "id, stack, detected_at, run_id, checked, drifted, errors, report, fixed_at"
_INSERT = (
    "INSERT INTO drift_detections (stack, detected_at, run_id, checked, drifted, errors, report) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)


@dataclass(frozen=True)
class DriftRow:
    """A stored detection; `findings` as the dicts that were saved."""

    id: int
    stack: str
    detected_at: float
    run_id: str | None
    checked: int
    findings: list[dict[str, Any]]
    fixed_at: float | None


class DriftRows:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._b = store.backend
        self.clock = clock

    def save(
        self,
        stack: str,
        detected_at: float,
        run_id: str | None,
        checked: int,
        counts: tuple[int, int],
        findings: list[dict[str, Any]],
    ) -> int:
        """Store a detection (`counts`: drifted, errors); its id."""
        params = (stack, detected_at, run_id, checked, counts[0], counts[1], to_json(findings))
        rows = self._b.write(self._b.sql(_INSERT), params)
        return int(rows[0][0])

    def latest(self, stack: str) -> DriftRow | None:
        sql = f"SELECT {_COLUMNS} FROM drift_detections WHERE stack = ? ORDER BY id DESC LIMIT 1"
        row = self._b.query_one(self._b.sql(sql), (stack,))
        if row is None:
            return None
        id_, name, detected_at, run_id, checked, _drifted, _errors, body, fixed_at = row
        findings = json.loads(body or "[]")
        return DriftRow(int(id_), name, detected_at, run_id, int(checked), findings, fixed_at)

    def mark_fixed(self, detection: int) -> None:
        sql = "UPDATE drift_detections SET fixed_at = ? WHERE id = ?"
        self._b.execute(self._b.sql(sql), (self.clock(), detection))
