"""What the console knows about the master: runs, agents (with metric history), locks, events.

Plain data, changed only on the UI thread by the App as stream items and call answers
arrive; screens read it. No I/O here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

HISTORY = 60
"""Heartbeats kept per agent for the sparklines."""
EVENTS_KEPT = 2000
RUNS_KEPT = 200
UNFINISHED = ("running", "pending", "")


@dataclass
class AgentView:
    info: dict[str, Any]
    cpu: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    mem: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    disk: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    last_metrics_ts: float = 0.0
    tasks: list[tuple[str, str]] = field(default_factory=list)
    """(run_id, task) running on it, as last asked."""

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def up(self) -> bool:
        return self.info.get("status") == "connected"


@dataclass
class ConsoleState:
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, AgentView] = field(default_factory=dict)
    locks: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """The newest EVENTS_KEPT events in time order (oldest first); `newest_events` for showing."""
    workflows: list[dict[str, Any]] = field(default_factory=list)
    connected: bool = False
    problem: str = ""
    """Why the master is not reachable (empty while connected)."""
    _seen: set[tuple[Any, ...]] = field(default_factory=set)

    # ---- runs -----------------------------------------------------------------------------

    def set_runs(self, rows: list[dict[str, Any]]) -> None:
        self.runs = {r["run_id"]: r for r in rows}

    def upsert_run(self, row: dict[str, Any]) -> None:
        self.runs[row["run_id"]] = {**self.runs.get(row["run_id"], {}), **row}
        if len(self.runs) > RUNS_KEPT:
            for run_id in [r["run_id"] for r in self.sorted_runs()[RUNS_KEPT:]]:
                self.runs.pop(run_id, None)

    def sorted_runs(self) -> list[dict[str, Any]]:
        """In flight first, then the newest."""
        return sorted(
            self.runs.values(),
            key=lambda r: (r.get("status") not in UNFINISHED, -(r.get("started_at") or 0.0)),
        )

    def in_flight(self) -> list[dict[str, Any]]:
        return [r for r in self.sorted_runs() if r.get("status") in UNFINISHED]

    def apply_run_event(self, event: dict[str, Any]) -> bool:
        """A workflow.* event from the event stream: the run's row changes; True if known."""
        run_id = event.get("run_id")
        if not run_id:
            return False
        kind, data = str(event["type"]), event.get("data") or {}
        row = self.runs.get(run_id)
        if row is None:
            return False
        if kind == "workflow.started":
            row["status"] = "running"
        elif kind in ("workflow.completed", "workflow.failed", "workflow.cancelled"):
            row["status"] = data.get("status") or kind.split(".")[1]
            row["duration_s"] = data.get("duration_s")
            row["finished_at"] = event.get("ts")
            row["error"] = data.get("error") or row.get("error")
        return True

    # ---- agents ---------------------------------------------------------------------------

    def apply_agent(self, info: dict[str, Any]) -> AgentView:
        view = self.agents.get(info["name"])
        if view is None:
            view = self.agents[info["name"]] = AgentView(info)
        metrics = info.get("metrics") or {}
        ts = float(metrics.get("ts") or 0.0)
        if ts < view.last_metrics_ts:
            return view  # an older answer (a listing that crossed the stream)
        view.info = info
        if metrics and ts > view.last_metrics_ts:
            view.last_metrics_ts = ts
            view.cpu.append(float(metrics.get("cpu_percent") or 0.0))
            view.mem.append(float(metrics.get("mem_percent") or 0.0))
            view.disk.append(float(metrics.get("disk_percent") or 0.0))
        return view

    def agents_sorted(self) -> list[AgentView]:
        return sorted(self.agents.values(), key=lambda a: (not a.up, a.name))

    # ---- events ---------------------------------------------------------------------------

    def add_events(self, events: list[dict[str, Any]]) -> None:
        """Add events not seen yet, in any order (a listing comes oldest first, the stream as
        things happen; a listed event and the same one from the stream, which carries no id,
        are one event). `events` stays in time order."""
        last = float(self.events[-1].get("ts") or 0.0) if self.events else 0.0
        in_order = True
        for event in events:
            key = _identity(event)
            if key in self._seen:
                continue
            self._seen.add(key)
            ts = float(event.get("ts") or 0.0)
            in_order = in_order and ts >= last
            last = max(last, ts)
            self.events.append(event)
        if not in_order:
            self.events.sort(key=lambda e: float(e.get("ts") or 0.0))
        extra = len(self.events) - EVENTS_KEPT
        if extra > 0:
            for old in self.events[:extra]:
                self._seen.discard(_identity(old))
            del self.events[:extra]

    def newest_events(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events, newest first."""
        return self.events[-limit:][::-1] if limit > 0 else []


def _identity(event: dict[str, Any]) -> tuple[Any, ...]:
    return (event.get("type"), round(float(event.get("ts") or 0.0), 3), event.get("run_id"))
