"""SchedulerScreen: the master's schedules with their next fire times; add one from a file,
delete, enable, disable, fire now."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding

from sloth_tui.display import ago, date_time
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.screens.steer import ask, confirm, read_file
from sloth_tui.widgets.filter_table import FilterTable


class SchedulerScreen(ConsoleScreen):
    TITLE_TEXT = "Scheduler"
    BINDINGS = [
        Binding("e", "toggle_enabled", "Enable/disable"),
        Binding("f", "fire", "Fire now"),
        Binding("o", "open_last", "Open last run"),
        Binding("a", "add", "Add"),
        Binding("d", "delete", "Delete"),
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

    def action_toggle_enabled(self) -> None:
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

    def action_add(self) -> None:
        """Three questions (name, cron, file); the file is read here and sent to the master."""

        def named(name: str) -> None:
            ask(
                self.app,
                f"Cron of schedule '{name}' (5 fields, or 6 with seconds first):",
                timed(name),
                "0 3 * * *",
            )

        def timed(name: str) -> Any:
            return lambda cron: ask(
                self.app, f"Workflow file of '{name}' (on this machine):", filed(name, cron)
            )

        def filed(name: str, cron: str) -> Any:
            def add(path: str) -> None:
                try:
                    source = read_file(path)
                except (OSError, UnicodeDecodeError) as exc:
                    self.notify(f"cannot read {path}: {exc}", severity="error")
                    return

                def added(row: Any) -> None:
                    self.notify(f"schedule {name} added")
                    self.reload()

                self.console.call(
                    lambda c: c.schedule_add(name, cron, path, source), added, f"adding schedule {name}"
                )

            return add

        ask(self.app, "Name of the new schedule:", named, "nightly")

    def action_delete(self) -> None:
        schedule = self._selected()
        if schedule is None:
            return
        name = schedule["name"]

        def deleted(_: Any) -> None:
            self.notify(f"schedule {name} deleted")
            self.reload()

        def delete() -> None:
            self.console.call(lambda c: c.schedule_delete(name), deleted, f"deleting {name}")

        confirm(self.app, f"Delete schedule '{name}'? It never fires again.", "Delete", delete)
