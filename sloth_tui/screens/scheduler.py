"""SchedulerScreen: the master's schedules with their next fire times; enable, disable, fire now."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding

from sloth_tui.display import ago, date_time
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.widgets.filter_table import FilterTable


class SchedulerScreen(ConsoleScreen):
    TITLE_TEXT = "Scheduler"
    BINDINGS = [
        Binding("e", "toggle", "Enable/disable"),
        Binding("f", "fire", "Fire now"),
        Binding("o", "open_last", "Open last run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.schedules: list[dict[str, Any]] = []

    def compose_body(self) -> ComposeResult:
        yield FilterTable(
            "schedule",
            "enabled",
            "cron",
            "next fire",
            "in",
            "last fire",
            "last run",
            "workflow",
            "overlap",
            id="schedule-table",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(FilterTable).focus()

    def reload(self) -> None:
        self.console.call(lambda c: c.list_schedules(), self._listed, "listing schedules")

    def _listed(self, rows: list[dict[str, Any]]) -> None:
        self.schedules = rows
        self.refresh_view(set())

    def refresh_view(self, kinds: set[str]) -> None:
        if "schedules" in kinds:
            self.reload()
            return
        if kinds and "connection" not in kinds:
            return
        now = self.console.clock()
        rows = []
        for s in self.schedules:
            enabled = coloured(
                self.app, "yes" if s["enabled"] else "no", "success" if s["enabled"] else "skipped"
            )
            rows.append(
                (
                    s["name"],
                    (
                        s["name"],
                        enabled,
                        f"{s['cron']} {s.get('tz') or ''}".strip(),
                        date_time(s.get("next_fire_at")) if s["enabled"] else "-",
                        ago(s.get("next_fire_at"), now) if s["enabled"] else "-",
                        date_time(s.get("last_fire_at")),
                        s.get("last_run_id") or "-",
                        f"{s.get('workflow') or '*'} ({s['file'].rsplit('/', 1)[-1]})",
                        s.get("overlap") or "",
                    ),
                )
            )
        self.query_one(FilterTable).show(rows)

    def _selected(self) -> dict[str, Any] | None:
        key = self.query_one(FilterTable).selected_key
        return next((s for s in self.schedules if s["name"] == key), None)

    def action_toggle(self) -> None:
        schedule = self._selected()
        if schedule is None:
            return
        name, enable = schedule["name"], not schedule["enabled"]

        def apply(yes: bool | None = True) -> None:
            if yes:
                self.console.call(
                    lambda c: c.set_schedule_enabled(name, enable), done, "changing the schedule"
                )

        def done(row: dict[str, Any]) -> None:
            self.notify(f"schedule {name} {'enabled' if row['enabled'] else 'disabled'}")
            self.reload()

        if enable:
            apply()
        else:
            self.app.push_screen(
                ConfirmScreen(f"Disable schedule '{name}'? It stops firing.", "Disable"), apply
            )

    def action_fire(self) -> None:
        schedule = self._selected()
        if schedule is None:
            return
        name = schedule["name"]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.console.call(lambda c: c.fire_schedule(name), fired, f"firing {name}")

        def fired(run_ids: list[str]) -> None:
            self.notify(f"schedule {name} fired: {', '.join(run_ids) or 'no run'}")
            self.reload()
            self.console.load_runs()

        question = f"Fire schedule '{name}' now (regardless of its time and overlap)?"
        self.app.push_screen(ConfirmScreen(question, "Fire now"), confirmed)

    def action_open_last(self) -> None:
        schedule = self._selected()
        if schedule and schedule.get("last_run_id"):
            self.console.open_run(schedule["last_run_id"].split(",")[0])
