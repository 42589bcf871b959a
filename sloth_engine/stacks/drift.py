"""Drift detection: each resource's actual state (probes) against its recorded properties.

Kinds of drift: `configuration` (fields whose actual value differs), `missing` (the resource is
gone), `extra` (a resource the last full run no longer declared still exists); a probe that
fails is an `error` finding. Each detection is stored in `drift_detections` and, when it finds
something, announced as `drift.detected`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from sloth_engine.stacks.probes import Reading, read_all
from sloth_engine.store.drift import DriftRows
from sloth_engine.store.resources import ResourceTable
from sloth_engine.store.stack_records import ResourceRecord
from sloth_engine.store.stacks import StackCatalog

FindingKind = Literal["configuration", "missing", "extra", "error"]
DRIFT_KINDS = ("configuration", "missing", "extra")


class Finding(NamedTuple):
    resource: str
    type: str
    name: str
    kind: FindingKind
    fields: list[dict[str, Any]]
    task: str = ""
    workflow: str = ""
    file: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class DriftReport(NamedTuple):
    id: int | None
    stack: str
    detected_at: float
    run_id: str | None
    checked: int
    findings: list[Finding]
    fixed_at: float | None = None

    @property
    def drifted(self) -> list[Finding]:
        return [f for f in self.findings if f.kind in DRIFT_KINDS]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "error"]

    def to_dict(self) -> dict[str, Any]:
        doc = self._asdict()
        doc["findings"] = [f.to_dict() for f in self.findings]
        doc["drifted"] = len(self.drifted)
        doc["errors"] = len(self.errors)
        return doc


def finding(record: ResourceRecord, reading: Reading) -> Finding | None:
    """What the reading says about the resource; None when it is in sync or was not read."""
    base = (record.key, record.type, record.name)
    origin = (record.task, record.workflow, record.file)
    if reading.status == "unchecked":
        return None
    if reading.status == "error":
        return Finding(*base, "error", [], *origin, reading.error)
    if record.state == "orphaned":
        if reading.status == "missing":
            return None
        extra = [{"field": "(resource)", "expected": "absent (no longer declared)", "actual": "present"}]
        return Finding(*base, "extra", extra, *origin)
    if reading.status == "missing":
        return Finding(
            *base, "missing", [{"field": "(resource)", "expected": "present", "actual": "absent"}], *origin
        )
    expected, actual = reading.expected or {}, reading.actual or {}
    fields: list[dict[str, Any]] = [
        {"field": key, "expected": value, "actual": actual.get(key)}
        for key, value in expected.items()
        if not same(value, actual.get(key))
    ]
    return Finding(*base, "configuration", fields, *origin) if fields else None


def same(expected: Any, actual: Any) -> bool:
    """Equal, or the same scalar written differently (8080 and "8080", 1 and 1.0)."""
    if expected == actual:
        return isinstance(expected, bool) == isinstance(actual, bool)
    scalars = (str, int, float)
    if isinstance(expected, scalars) and isinstance(actual, scalars):
        if isinstance(expected, bool) or isinstance(actual, bool):
            return False
        return str(expected).strip() == str(actual).strip()
    return False


class DriftDetector:
    def __init__(
        self, catalog: StackCatalog, resources: ResourceTable, clock: Callable[[], float] = time.time
    ) -> None:
        self.catalog = catalog
        self.resources = resources
        self.rows = DriftRows(catalog.store, clock)
        self.clock = clock

    def detect(self, stack: str, run_id: str | None = None, store_report: bool = True) -> DriftReport:
        info = self.catalog.require(stack)
        records = self.resources.list(stack)
        readings = read_all(records, self.catalog.store, info.workflow_file)
        found = [f for r, reading in zip(records, readings, strict=True) if (f := finding(r, reading))]
        checked = sum(1 for r in readings if r.status != "unchecked")
        report = DriftReport(None, stack, self.clock(), run_id, checked, found)
        if store_report:
            report = report._replace(id=self._save(report))
            if found:
                data = {
                    "drifted": [f.resource for f in report.drifted],
                    "errors": [f.resource for f in report.errors],
                    "checked": checked,
                }
                self.catalog.emit("drift.detected", stack, data, run_id, "warning")
        return report

    def _save(self, report: DriftReport) -> int:
        counts = (len(report.drifted), len(report.errors))
        findings = [f.to_dict() for f in report.findings]
        return self.rows.save(
            report.stack, report.detected_at, report.run_id, report.checked, counts, findings
        )

    def latest(self, stack: str) -> DriftReport | None:
        row = self.rows.latest(stack)
        if row is None:
            return None
        findings = [Finding(**f) for f in row.findings]
        return DriftReport(
            row.id, row.stack, row.detected_at, row.run_id, row.checked, findings, row.fixed_at
        )

    def mark_fixed(self, report: DriftReport, fixed: list[str], run_ids: list[str], complete: bool) -> None:
        """Announce `drift.fixed`; a complete fix also marks the report fixed."""
        if complete and report.id is not None:
            self.rows.mark_fixed(report.id)
        data = {"resources": fixed, "runs": run_ids, "complete": complete}
        self.catalog.emit("drift.fixed", report.stack, data)
