"""Runs whose end the store could not record: kept on local disk until the store takes them.

When a run ends and the store refuses its end (a full disk, a database down past the retries),
the process that ran it does not pretend: the client is told "outcome not recorded", and the
run's true outcome (its status and each task's final attempt) is written to
`$SLOTH_HOME/unrecorded/RUN_ID.json`. A master records these files in the store when it starts
(before it resumes anything) and every few seconds while it runs; a run with such a file is
never resumed, so nothing of it runs again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import RunTransitionRefused, StoreError
from sloth_engine.executor.results import RunResult
from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RunStatus

if TYPE_CHECKING:
    from sloth_engine.store import Store

log = logging.getLogger(__name__)


def folder(home: Path) -> Path:
    return home / "unrecorded"


def keep(home: Path, result: RunResult, finished_at: float, why: str) -> Path:
    """Write the run's outcome next to the store (atomically); its path."""
    target = folder(home) / f"{result.run_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "run_id": result.run_id,
        "status": result.status.value,
        "finished_at": finished_at,
        "duration_s": result.duration_s,
        "error": result.error or None,
        "why": why,
        "tasks": [
            {**t.to_dict(), "started_at": t.started_at, "finished_at": finished_at}
            for t in result.tasks
            if t.status.finished
        ],
    }
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(target)
    return target


def pending(home: Path) -> set[str]:
    """Run ids whose outcome waits to be recorded."""
    try:
        return {p.stem for p in folder(home).glob("*.json")}
    except OSError:
        return set()


def record_all(store: Store, home: Path) -> list[str]:
    """Record every kept outcome the store now accepts; the run ids recorded."""
    done = []
    for path in sorted(folder(home).glob("*.json")) if folder(home).is_dir() else []:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            _record(store, doc)
        except RunTransitionRefused as exc:  # someone ended it meanwhile (by hand): theirs stays
            log.warning("run %s: its kept outcome is not recorded: %s", path.stem, exc)
            path.unlink(missing_ok=True)
            continue
        except StoreError as exc:
            log.warning("run %s: its outcome is still not recorded: %s", path.stem, exc)
            break  # the store still refuses: try the others next time
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("cannot read the kept outcome %s (%s); left in place", path, exc)
            continue
        path.unlink(missing_ok=True)
        done.append(str(doc["run_id"]))
        log.warning("run %s: its outcome (%s) is recorded now", doc["run_id"], doc["status"])
    return done


def _record(store: Store, doc: dict[str, Any]) -> None:
    run_id = doc["run_id"]
    rows = [
        {
            "run_id": run_id,
            "task": t["name"],
            "attempt": max(1, int(t["attempts"])),
            "status": t["status"],
            "started_at": t.get("started_at"),
            "finished_at": t.get("finished_at") or time.time(),
            "duration_s": t.get("duration_s"),
            "agent": t.get("agent"),
            "message": t.get("message"),
            "error": t.get("error"),
            "outputs": t.get("outputs") or {},
            "exit_code": (t.get("outputs") or {}).get("exit_code"),
        }
        for t in doc["tasks"]
    ]
    store.runs.save_attempts(rows)
    run = store.runs.get_run(run_id, with_tasks=False)
    workflow, stack = (run["workflow"], run["stack"]) if run else ("", None)
    transition = RunTransition(run_id, workflow, store, stack, exists=True)
    transition.finish(RunStatus(doc["status"]), doc["duration_s"], doc.get("error"), at=doc["finished_at"])
