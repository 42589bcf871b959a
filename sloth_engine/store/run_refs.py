"""Run references as people type them: `last`, a whole run id, or a unique prefix of one.

A prefix matches the start of the id (`20261204-1759`) or of its random part (`3fa2` for
`20261204-175914-3fa2b1c0`, the form sloth_engine.run.new_run_id gives). Several matches are a
UsageError listing them (exit 2).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sloth_engine.errors import NotFound, UsageError

if TYPE_CHECKING:
    from sloth_engine.store import Store

LAST = "last"
SHOWN = 10
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_MATCHING = (
    "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '!' OR run_id LIKE ? ESCAPE '!' "
    "ORDER BY started_at DESC, run_id LIMIT ?"
)
_STAMP = "________-______-"
"""LIKE's pattern of the date and time in front of a run id's random part."""
_NEWEST = "SELECT run_id FROM runs ORDER BY started_at DESC, run_id LIMIT 1"
_EXACT = "SELECT run_id FROM runs WHERE run_id = ?"


def resolve_run_id(store: Store, ref: str) -> str:
    """The run id `ref` names; NotFound when none, UsageError when several."""
    backend = store.backend
    ref = ref.strip()
    if ref == LAST:
        row = backend.query_one(backend.sql(_NEWEST))
        if row is None:
            raise NotFound("no runs recorded yet (`last` names the newest)")
        return str(row[0])
    if backend.query_one(backend.sql(_EXACT), (ref,)) is not None:
        return ref
    if not _REF.fullmatch(ref):
        raise NotFound(f"no run {ref}")
    escaped = ref.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    rows = backend.query_all(backend.sql(_MATCHING), (f"{escaped}%", f"{_STAMP}{escaped}%", SHOWN + 1))
    found = [str(r[0]) for r in rows]
    if not found:
        raise NotFound(f"no run {ref}")
    if len(found) > 1:
        listed = ", ".join(found[:SHOWN]) + (" and more" if len(found) > SHOWN else "")
        raise UsageError(f"run id prefix '{ref}' is ambiguous: {listed}")
    return found[0]
