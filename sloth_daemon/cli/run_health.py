"""`sysadmin health`'s checks of the run history: abandoned runs and stuck runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sloth_engine.spec import RunStatus

if TYPE_CHECKING:
    from sloth_engine.store import Store

STUCK_AFTER_S = 6 * 3600.0
"""An unfinished run older than this is reported stuck (its owner may hang or be elsewhere)."""
SHOWN = 5

Check = tuple[str, str, str]


def run_checks(store: Store, now: float | None = None) -> list[Check]:
    """Mark the runs of processes that are gone abandoned, then report those and stuck runs."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.run_owner import owner_gone

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.run_transition import abandon_gone

    now = time.time() if now is None else now
    abandon_gone(store, owner_gone)
    abandoned = store.runs.list_runs(status=RunStatus.ABANDONED.value, limit=1000)
    if abandoned:
        ids = ", ".join(r["run_id"] for r in abandoned[:SHOWN])
        more = f" and {len(abandoned) - SHOWN} more" if len(abandoned) > SHOWN else ""
        check = ("runs abandoned", "warn", f"{len(abandoned)} run(s) whose process died: {ids}{more}")
    else:
        check = ("runs abandoned", "ok", "none")
    return [check, _stuck(store, now)]


def _stuck(store: Store, now: float) -> Check:
    stuck = []
    for run in store.runs.unfinished_runs():
        age = now - (run.get("started_at") or now)
        if age > STUCK_AFTER_S or not run.get("owner_pid"):
            why = "no owner recorded" if not run.get("owner_pid") else f"running for {age / 3600:.1f}h"
            stuck.append(f"{run['run_id']} ({why})")
    if not stuck:
        return ("runs stuck", "ok", "none")
    more = f" and {len(stuck) - SHOWN} more" if len(stuck) > SHOWN else ""
    listed = ", ".join(stuck[:SHOWN])
    detail = f"{len(stuck)} unfinished run(s): {listed}{more}; `runs cancel --force ID` ends one"
    return ("runs stuck", "warn", detail)
