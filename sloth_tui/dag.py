"""A run as the run-detail screen draws it: tasks laid out by dependency level, each with its
live state, attempts, duration, log lines and outputs. Plain data fed by the run's stream."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sloth_engine.executor.results import RunEvent, RunResult
from sloth_engine.spec import TaskStatus

LOG_LINES_KEPT = 2000
"""Output lines kept per task for the log panel (every line stays on the master)."""
FINISHED = tuple(s for s in TaskStatus if s.finished)


@dataclass
class TaskView:
    name: str
    depends_on: list[str] = field(default_factory=list)
    placement: str = "local"
    description: str = ""
    level: int = 0
    status: str = "pending"
    attempts: int = 0
    started_at: float | None = None
    duration_s: float | None = None
    agent: str = ""
    message: str = ""
    error: str = ""
    outputs: dict[str, Any] | None = None
    log: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=LOG_LINES_KEPT))
    """(stream, line) of the newest output."""
    log_total: int = 0
    """Lines ever added to `log` (it keeps only the newest)."""

    def elapsed(self, now: float) -> float | None:
        if self.duration_s is not None and self.status in FINISHED:
            return self.duration_s
        if self.started_at is not None and self.status in (TaskStatus.RUNNING, TaskStatus.RETRYING):
            return max(0.0, now - self.started_at)
        return self.duration_s


def levels_of(graph: list[dict[str, Any]]) -> dict[str, int]:
    """Each task's level: 0 without dependencies, else one more than its deepest dependency
    (dependencies outside the graph are ignored; a cycle cannot reach here, the master
    refuses cyclic workflows)."""
    deps = {t["name"]: [d for d in t.get("depends_on") or () if d != t["name"]] for t in graph}
    level: dict[str, int] = {}
    for name in deps:
        stack = [name]
        while stack:
            top = stack[-1]
            if top in level:
                stack.pop()
                continue
            pending = [d for d in deps[top] if d in deps and d not in level and d not in stack]
            if pending:
                stack.extend(pending)
                continue
            known = [level[d] for d in deps[top] if d in level]
            level[top] = 1 + max(known) if known else 0
            stack.pop()
    return level


@dataclass
class RunView:
    run_id: str
    workflow: str = ""
    status: str = "running"
    started_at: float | None = None
    duration_s: float | None = None
    error: str = ""
    tasks: dict[str, TaskView] = field(default_factory=dict)
    columns: list[list[str]] = field(default_factory=list)
    """Task names per dependency level, in definition order."""
    version: int = 0
    """Bumped at every change (widgets redraw when it moves)."""

    # ---- building -----------------------------------------------------------------------

    def set_graph(self, graph: list[dict[str, Any]]) -> None:
        levels = levels_of(graph)
        for node in graph:
            view = self.tasks.get(node["name"]) or TaskView(node["name"])
            view.depends_on = list(node.get("depends_on") or ())
            view.placement = node.get("placement") or "local"
            view.description = node.get("description") or ""
            view.level = levels.get(node["name"], 0)
            self.tasks[node["name"]] = view
        self._lay_out()

    def apply_run(self, run: dict[str, Any]) -> None:
        """A run as GetRun answers it: its status and every task attempt so far."""
        self.workflow = run.get("workflow") or self.workflow
        self.status = run.get("status") or self.status
        self.started_at = run.get("started_at") or self.started_at
        self.duration_s = run.get("duration_s")
        self.error = run.get("error") or ""
        for row in sorted(run.get("tasks") or (), key=lambda a: a["attempt"]):
            view = self._task(row["task"])
            view.attempts = max(view.attempts, int(row["attempt"]))
            view.status = row.get("status") or view.status
            view.started_at = view.started_at or row.get("started_at")
            view.duration_s = row.get("duration_s")
            view.agent = row.get("agent") or view.agent
            view.message = row.get("message") or ""
            view.error = row.get("error") or ""
            if row.get("outputs") is not None:
                view.outputs = row["outputs"]
        self._lay_out()

    # ---- live ---------------------------------------------------------------------------

    def apply(self, item: RunEvent | RunResult) -> str | None:
        """One item of the run's stream; the task it changed (None for the run itself)."""
        self.version += 1
        if isinstance(item, RunResult):
            self.apply_report(item)
            return None
        if item.kind == "task.log":
            if item.task:
                view = self._task(item.task)
                view.log.append((item.status, str(item.data.get("line", ""))))
                view.log_total += 1
            return item.task
        if item.kind.startswith("workflow."):
            if item.kind == "workflow.started":
                self.status = "running"
                self.started_at = item.data.get("started_at") or item.ts
            elif item.status:
                self.status = item.status
            return None
        if item.task is None or not item.status:
            return item.task
        view = self._task(item.task)
        view.status = item.status
        view.attempts = max(view.attempts, item.attempt)
        view.message = str(item.data.get("message") or view.message)
        view.error = str(item.data.get("error") or "")
        if item.status == TaskStatus.RUNNING and view.started_at is None:
            view.started_at = item.ts
        elif item.status in FINISHED and view.started_at is not None:
            view.duration_s = max(0.0, item.ts - view.started_at)
        return item.task

    def apply_report(self, report: RunResult) -> None:
        self.status = report.status.value
        self.duration_s = report.duration_s
        self.error = report.error
        self.workflow = report.workflow or self.workflow
        for result in report.tasks:
            view = self._task(result.name)
            view.status = result.status.value
            view.attempts = max(view.attempts, result.attempts)
            view.duration_s = result.duration_s
            view.agent = result.agent or view.agent
            view.message, view.error = result.message, result.error
            view.outputs = result.outputs
        self._lay_out()

    # ---- reading ------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for view in self.tasks.values():
            found[view.status] = found.get(view.status, 0) + 1
        return found

    def dependents(self, name: str) -> list[str]:
        return [t.name for t in self.tasks.values() if name in t.depends_on]

    def failed(self) -> list[str]:
        failed = (TaskStatus.FAILED, TaskStatus.TIMED_OUT, TaskStatus.CANCELLED)
        return [t.name for t in self.tasks.values() if t.status in failed]

    def _task(self, name: str) -> TaskView:
        view = self.tasks.get(name)
        if view is None:
            view = self.tasks[name] = TaskView(name)
            self._lay_out()
        return view

    def _lay_out(self) -> None:
        width = max((t.level for t in self.tasks.values()), default=-1) + 1
        columns: list[list[str]] = [[] for _ in range(width)]
        for view in self.tasks.values():
            columns[view.level].append(view.name)
        self.columns = columns
        self.version += 1
