"""OverviewScreen: runs in flight and recent, agents up and lost, locks held, the last events."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import DataTable

from sloth_engine.spec import RunStatus
from sloth_tui.display import ago, clock_time, duration, short, state_colour
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.widgets.filter_table import FilterTable


def coloured(app: Any, text: str, state: str | None = None) -> Text:
    """`text` in the theme colour of `state` (itself by default)."""
    colour = state_colour(app.theme_variables, state or text)
    return Text(text, style=colour)


class OverviewScreen(ConsoleScreen):
    TITLE_TEXT = "Overview"
    BINDINGS = [
        Binding("enter", "open_run", "Open run", show=False),
        Binding("c", "cancel_run", "Cancel run"),
    ]

    def compose_body(self) -> ComposeResult:
        with Grid(id="overview"):
            with Vertical(id="runs-box", classes="box"):
                yield FilterTable("run", "workflow", "status", "started", "duration", "stack", id="runs")
            with Vertical(id="agents-box", classes="box"):
                yield FilterTable("agent", "status", "cpu", "mem", "tasks", "heartbeat", id="agents")
            with Vertical(id="events-box", classes="box"):
                yield FilterTable("time", "event", "run / stack", "data", id="events")
            with Vertical(id="locks-box", classes="box"):
                yield FilterTable("lock", "kind", "holder", "since", id="locks")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#runs", FilterTable).focus()

    def reload(self) -> None:
        self.console.load_all()

    def refresh_view(self, kinds: set[str]) -> None:
        state, now = self.console.state, self.console.clock()
        every = not kinds
        if every or "runs" in kinds:
            runs = state.sorted_runs()
            flying = len(state.in_flight())
            self._title("#runs-box", f"Runs: {flying} in flight, {len(runs) - flying} recent")
            self.query_one("#runs", FilterTable).show([self._run_row(r, now) for r in runs])
        if every or kinds & {"agents", "connection"}:
            agents = state.agents_sorted()
            up = sum(1 for a in agents if a.up)
            self._title("#agents-box", f"Agents: {up} up, {len(agents) - up} not")
            self.query_one("#agents", FilterTable).show([self._agent_row(a.info, now) for a in agents])
        if every or "locks" in kinds:
            self._title("#locks-box", f"Locks held: {len(state.locks)}")
            rows = [
                (
                    f"{lk['kind']}:{lk['name']}",
                    (lk["name"], lk["kind"], lk["holder"], ago(lk["acquired_at"], now)),
                )
                for lk in state.locks
            ]
            self.query_one("#locks", FilterTable).show(rows)
        if every or "events" in kinds:
            recent = state.newest_events(50)
            self._title("#events-box", "Last events")
            self.query_one("#events", FilterTable).show([self._event_row(e, i) for i, e in enumerate(recent)])

    def _title(self, box: str, text: str) -> None:
        self.query_one(box).border_title = text

    def _run_row(self, run: dict[str, Any], now: float) -> tuple[str, tuple[Any, ...]]:
        status = run.get("status") or "?"
        spent = run.get("duration_s")
        if spent is None and status == RunStatus.RUNNING and run.get("started_at"):
            spent = now - run["started_at"]
        cells = (
            run["run_id"],
            run.get("workflow") or "",
            coloured(self.app, status),
            ago(run.get("started_at"), now),
            duration(spent),
            run.get("stack") or "",
        )
        return run["run_id"], cells

    def _agent_row(self, info: dict[str, Any], now: float) -> tuple[str, tuple[Any, ...]]:
        metrics = info.get("metrics") or {}
        cells = (
            info["name"],
            coloured(self.app, info.get("status") or "?"),
            f"{metrics.get('cpu_percent', 0):.0f}%",
            f"{metrics.get('mem_percent', 0):.0f}%",
            f"{info.get('running_tasks', 0)}/{info.get('max_tasks', 0)}",
            ago(info.get("last_heartbeat"), now),
        )
        return info["name"], cells

    def _event_row(self, event: dict[str, Any], index: int) -> tuple[str, tuple[Any, ...]]:
        where = event.get("run_id") or event.get("stack") or ""
        kind = coloured(self.app, event["type"], event.get("severity") or "info")
        key = str(event.get("id") or f"live-{index}-{event.get('ts')}")
        return key, (clock_time(event.get("ts")), kind, where, short(event.get("data") or {}, 50))

    # ---- actions ------------------------------------------------------------------------

    def _selected_run(self) -> str | None:
        return self.query_one("#runs", FilterTable).selected_key

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "runs" and event.row_key.value:
            self.console.open_run(str(event.row_key.value))
        elif event.data_table.id == "agents":
            self.console.go("agents")
        elif event.data_table.id == "locks":
            self.console.go("locks")
        elif event.data_table.id == "events":
            self.console.go("events")

    def action_open_run(self) -> None:
        run_id = self._selected_run()
        if run_id:
            self.console.open_run(run_id)

    def action_cancel_run(self) -> None:
        run_id = self._selected_run()
        if run_id:
            self.console.cancel_run(run_id)
