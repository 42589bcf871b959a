"""One status vocabulary: the words RunStatus uses, and the common synonyms people type.

`runs list --status succeeded` reads as `success`, `canceled` as `cancelled`; an unknown word
is a UsageError that lists the valid ones.
"""

from __future__ import annotations

from sloth_engine.errors import UsageError
from sloth_engine.spec import RunStatus

RUN_SYNONYMS = {
    "succeeded": RunStatus.SUCCESS,
    "successful": RunStatus.SUCCESS,
    "succeed": RunStatus.SUCCESS,
    "ok": RunStatus.SUCCESS,
    "passed": RunStatus.SUCCESS,
    "done": RunStatus.SUCCESS,
    "fail": RunStatus.FAILED,
    "failure": RunStatus.FAILED,
    "error": RunStatus.FAILED,
    "errored": RunStatus.FAILED,
    "canceled": RunStatus.CANCELLED,
    "cancel": RunStatus.CANCELLED,
    "in_progress": RunStatus.RUNNING,
    "active": RunStatus.RUNNING,
    "started": RunStatus.RUNNING,
    "orphaned": RunStatus.ABANDONED,
}


def run_status(word: str) -> RunStatus:
    """The RunStatus a word names (its value or a synonym, any case, - or _)."""
    key = word.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return RunStatus(key)
    except ValueError:
        pass
    found = RUN_SYNONYMS.get(key)
    if found is None:
        valid = ", ".join(s.value for s in RunStatus)
        raise UsageError(f"unknown run status '{word}': valid statuses are {valid}")
    return found
