"""The records of the stacks package: plain data read from the store, and their JSON forms."""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Any, NamedTuple

FOREVER = 253402300799.0
"""Expiry of a lock taken without a ttl (9999-12-31): held until released."""

to_json = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False).encode
"""Compact JSON text of stored values (outputs, reports, snapshot bodies)."""

_canonical = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode


class StackStatus(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"


class RegisterOutcome(enum.StrEnum):
    """What `stack.register_resource` did, judged by the checksum of the properties."""

    CREATED = "created"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


def checksum(properties: Any) -> str:
    """SHA-256 of the canonical JSON of `properties` (keys sorted)."""
    return hashlib.sha256(_canonical(properties).encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    return _canonical(value)


class StackInfo(NamedTuple):
    name: str
    description: str
    workflow_file: str
    workflow: str
    status: str
    created_at: float
    updated_at: float
    last_run_id: str | None
    last_run_at: float | None
    last_duration_s: float | None
    execution_count: int
    outputs: dict[str, Any]
    last_version: int

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


STACK_COLUMNS = (
    "name, description, workflow_file, workflow, status, created_at, updated_at, last_run_id, "
    "last_run_at, last_duration_s, execution_count, outputs, last_version"
)


def stack_info(row: tuple[Any, ...]) -> StackInfo:
    values = list(row)
    values[11] = json.loads(values[11]) if values[11] else {}
    values[10] = int(values[10] or 0)
    values[12] = int(values[12] or 0)
    return StackInfo(*values)


RESOURCE_FIELDS = (
    "stack",
    "type",
    "name",
    "properties",
    "checksum",
    "depends_on",
    "probe",
    "probe_kind",
    "module",
    "state",
    "error",
    "task",
    "workflow",
    "file",
    "run_id",
    "created_at",
    "updated_at",
)
"""Columns of `resources` (without its id), in the order rows and snapshots hold them."""
RESOURCE_COLUMNS = ", ".join(f'"{c}"' for c in RESOURCE_FIELDS)
PROPERTIES_AT = RESOURCE_FIELDS.index("properties")
DEPENDS_AT = RESOURCE_FIELDS.index("depends_on")


class ResourceRecord(NamedTuple):
    """A resource as stored; `properties` and `depends_on` decoded."""

    stack: str
    type: str
    name: str
    properties: dict[str, Any]
    checksum: str
    depends_on: list[str]
    probe: str | None
    probe_kind: str | None
    module: str
    state: str
    error: str | None
    task: str
    workflow: str
    file: str
    run_id: str | None
    created_at: float
    updated_at: float

    @property
    def key(self) -> str:
        """`type.name`: how reports and diffs name a resource."""
        return f"{self.type}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def resource_record(row: tuple[Any, ...] | list[Any]) -> ResourceRecord:
    values = list(row)
    values[PROPERTIES_AT] = json.loads(values[PROPERTIES_AT]) if values[PROPERTIES_AT] else {}
    values[DEPENDS_AT] = json.loads(values[DEPENDS_AT]) if values[DEPENDS_AT] else []
    return ResourceRecord(*values)


class SnapshotInfo(NamedTuple):
    stack: str
    version: int
    description: str
    creator: str
    created_at: float
    run_id: str | None
    resource_count: int

    @property
    def label(self) -> str:
        return f"v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**self._asdict(), "label": self.label}


class Snapshot(NamedTuple):
    """A snapshot with its content: resources (records) and outputs."""

    info: SnapshotInfo
    resources: list[ResourceRecord]
    outputs: dict[str, Any]


def parse_version(text: str | int) -> int:
    """`v3`, `V3` or `3` -> 3; ValueError otherwise."""
    raw = str(text).strip()
    digits = raw[1:] if raw[:1] in ("v", "V") else raw
    if not digits.isdigit() or int(digits) < 1:
        raise ValueError(f"'{text}' is not a snapshot version (v1, v2, ...)")
    return int(digits)
