"""What clients submitted (`run_submissions`), kept so that a restarted master can resume runs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sloth_engine.store import Store

_FIELDS = (
    "run_id",
    "path",
    "workflow",
    "source",
    '"values"',
    "params",
    "max_parallel",
    "stack",
    "delegate_to",
    "submitted_at",
)


@dataclass
class Submission:
    path: str
    source: str
    workflow: str = ""
    """Empty: every workflow of the file in order."""
    values: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    max_parallel: int | None = None
    stack: str | None = None
    delegate_to: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    """Imported files of the workflow's folder (the run's bundle); kept on the master's disk
    beside its copy of the source, not in this table."""


class SubmissionRows:
    def __init__(self, store: Store) -> None:
        self.store = store
        b = store.backend
        self._insert = b.sql(
            f"INSERT INTO run_submissions ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"
        )
        self._select = b.sql(f"SELECT {', '.join(_FIELDS)} FROM run_submissions WHERE run_id = ?")

    def save(self, run_id: str, workflow: str, sub: Submission) -> None:
        self.store.backend.execute(
            self._insert,
            (
                run_id,
                sub.path,
                workflow,
                sub.source,
                json.dumps(sub.values, default=str),
                json.dumps(sub.params, default=str),
                sub.max_parallel,
                sub.stack,
                sub.delegate_to,
                time.time(),
            ),
        )

    def get(self, run_id: str) -> Submission | None:
        row = self.store.backend.query_one(self._select, (run_id,))
        if row is None:
            return None
        item = dict(zip((f.strip('"') for f in _FIELDS), row, strict=True))
        return Submission(
            path=item["path"],
            source=item["source"],
            workflow=item["workflow"],
            values=json.loads(item["values"] or "{}"),
            params=json.loads(item["params"] or "{}"),
            max_parallel=item["max_parallel"],
            stack=item["stack"],
            delegate_to=item["delegate_to"],
        )
