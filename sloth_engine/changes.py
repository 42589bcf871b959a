"""What a task changed: one line on the `change` stream per module call that changed (or, in
check mode, would change) something, and with `--diff` the unified diff of a file's content on
the `diff` stream. The journal counts the change lines of each task; the run's recap counts the
tasks (ok, changed, failed, skipped), as Ansible's does. A leaf module: the modules write the
lines and the executor counts them, and neither imports the other.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from sloth_engine.spec import TaskStatus

CHANGE_STREAM = "change"
DIFF_STREAM = "diff"
MAX_DIFF_LINES = 2000
"""A longer diff is cut, with a line that says how many lines were left out."""

Log = Callable[[str, str], None]


def note_change(
    log: Log,
    check: bool,
    what: str,
    before: bytes | None = None,
    after: bytes | None = None,
    diff: bool = False,
) -> None:
    """Record one change (`what`, e.g. "file_ops.template /etc/app.conf"), with its diff when asked."""
    log(CHANGE_STREAM, f"{'would change' if check else 'changed'}: {what}")
    if not diff or after is None:
        return
    old = (before or b"").decode("utf-8", "replace").splitlines(keepends=False)
    new = after.decode("utf-8", "replace").splitlines(keepends=False)
    name = what.rsplit(" ", 1)[-1]
    lines = list(difflib.unified_diff(old, new, f"{name} (before)", f"{name} (after)", lineterm=""))
    for line in lines[:MAX_DIFF_LINES]:
        log(DIFF_STREAM, line)
    if len(lines) > MAX_DIFF_LINES:
        log(DIFF_STREAM, f"... {len(lines) - MAX_DIFF_LINES} more lines of diff")


def recap(tasks: list[tuple[TaskStatus, int]]) -> dict[str, int]:
    """{ok, changed, failed, skipped} of (status, changes) per task: a task changed when it made
    (or in check mode would make) at least one change; a shell command counts as one."""
    counts = {"ok": 0, "changed": 0, "failed": 0, "skipped": 0}
    for status, changes in tasks:
        if status in (TaskStatus.FAILED, TaskStatus.TIMED_OUT):
            counts["failed"] += 1
        elif status in (TaskStatus.SKIPPED, TaskStatus.CANCELLED, TaskStatus.PENDING):
            counts["skipped"] += 1
        elif changes > 0:
            counts["changed"] += 1
        else:
            counts["ok"] += 1
    return counts
