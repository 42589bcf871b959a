"""StacksScreen: stacks; the selected one's resources, snapshots, drift report and dependencies.

Actions: take a snapshot, restore one (asks), compare two side by side, detect drift, fix it
(asks; the master runs the owning tasks again).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from sloth_tui.display import ago, date_time, short
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.screens.prompt import PromptScreen
from sloth_tui.screens.snapshot_diff import SnapshotDiffScreen
from sloth_tui.stack_text import deps_text, drift_text
from sloth_tui.widgets.filter_table import FilterTable


class StacksScreen(ConsoleScreen):
    TITLE_TEXT = "Stacks"
    BINDINGS = [
        Binding("s", "snapshot", "Snapshot"),
        Binding("R", "restore", "Restore snapshot"),
        Binding("space", "mark", "Mark snapshot"),
        Binding("d", "diff", "Diff snapshots"),
        Binding("D", "detect", "Detect drift"),
        Binding("F", "fix", "Fix drift"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stacks: list[dict[str, Any]] = []
        self.detail: dict[str, Any] | None = None
        self.marked: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="stacks-body"):
            yield FilterTable(
                "stack", "status", "resources", "version", "last run", "locked by", id="stack-table"
            )
            with TabbedContent(id="stack-tabs"):
                with TabPane("Resources", id="tab-resources"):
                    yield FilterTable("resource", "state", "task", "properties", id="resource-table")
                with TabPane("Snapshots", id="tab-snapshots"):
                    yield FilterTable(
                        "version", "created", "by", "resources", "description", id="snapshot-table"
                    )
                with TabPane("Drift", id="tab-drift"), VerticalScroll():
                    yield Static("", id="drift")
                with TabPane("Dependencies", id="tab-deps"), VerticalScroll():
                    yield Static("", id="deps")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#stack-table", FilterTable).focus()

    # ---- data -----------------------------------------------------------------------------

    def reload(self) -> None:
        self.console.call(lambda c: c.list_stacks(), self._listed, "listing stacks")

    def _listed(self, stacks: list[dict[str, Any]]) -> None:
        self.stacks = stacks
        now = self.console.clock()
        rows = [
            (
                s["name"],
                (
                    s["name"],
                    coloured(self.app, s.get("status") or "-"),
                    str(s.get("resources", 0)),
                    f"v{s['last_version']}" if s.get("last_version") else "-",
                    ago(s.get("last_run_at"), now),
                    s.get("locked_by") or "",
                ),
            )
            for s in stacks
        ]
        self.query_one("#stack-table", FilterTable).show(rows)
        self._load_selected()

    @property
    def selected_stack(self) -> str | None:
        return self.query_one("#stack-table", FilterTable).selected_key

    def _load_selected(self) -> None:
        name = self.selected_stack
        if name is None:
            return
        self.console.call(lambda c: c.get_stack(name), self._detailed, f"reading stack {name}")

    def _detailed(self, doc: dict[str, Any]) -> None:
        if doc["stack"]["name"] != self.selected_stack:
            return
        self.detail = doc
        resources = [
            (
                f"{r['type']}.{r['name']}",
                (
                    f"{r['type']}.{r['name']}",
                    r.get("state") or "",
                    r.get("task") or "",
                    short(r.get("properties") or {}, 60),
                ),
            )
            for r in doc["resources"]
        ]
        self.query_one("#resource-table", FilterTable).show(resources)
        self._show_snapshots()
        self.query_one("#drift", Static).update(drift_text(doc.get("drift")))
        self.query_one("#deps", Static).update(
            deps_text(doc["stack"]["name"], doc.get("deps") or {}, doc.get("graph") or {})
        )

    def _show_snapshots(self) -> None:
        snapshots = (self.detail or {}).get("snapshots") or []
        rows = [
            (
                s["label"],
                (
                    ("✓ " if s["label"] in self.marked else "  ") + s["label"],
                    date_time(s.get("created_at")),
                    s.get("creator") or "",
                    str(s.get("resource_count", 0)),
                    s.get("description") or "",
                ),
            )
            for s in reversed(snapshots)
        ]
        self.query_one("#snapshot-table", FilterTable).show(rows)

    def refresh_view(self, kinds: set[str]) -> None:
        if "stacks" in kinds:
            self.reload()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if (
            event.data_table.id == "stack-table"
            and (self.detail or {}).get("stack", {}).get("name") != self.selected_stack
        ):
            self.marked = []
            self._load_selected()

    # ---- actions --------------------------------------------------------------------------

    def _selected_snapshot(self) -> str | None:
        return self.query_one("#snapshot-table", FilterTable).selected_key

    def action_snapshot(self) -> None:
        name = self.selected_stack
        if name is None:
            return

        def described(text: str | None) -> None:
            if text is not None:
                self.console.call(
                    lambda c: c.create_snapshot(name, text, "console"), done, "taking a snapshot"
                )

        def done(info: dict[str, Any]) -> None:
            self.notify(f"snapshot {info['label']} of {name} ({info['resource_count']} resources)")
            self.reload()

        self.app.push_screen(
            PromptScreen(f"Snapshot stack '{name}': description", "before the upgrade"), described
        )

    def action_restore(self) -> None:
        name, version = self.selected_stack, self._selected_snapshot()
        if name is None or version is None:
            self.notify("select a snapshot (Snapshots tab)", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.console.call(lambda c: c.restore_snapshot(name, version, "console"), done, "restoring")

        def done(info: dict[str, Any]) -> None:
            self.notify(f"stack {name} restored to {info['label']}")
            self.reload()

        question = f"Restore stack '{name}' to {version}? Its resources and outputs become the snapshot's."
        self.app.push_screen(ConfirmScreen(question, "Restore"), confirmed)

    def action_mark(self) -> None:
        version = self._selected_snapshot()
        if version is None:
            return
        if version in self.marked:
            self.marked.remove(version)
        else:
            self.marked = [*self.marked[-1:], version]
        self._show_snapshots()

    def action_diff(self) -> None:
        name = self.selected_stack
        picked = self.marked if len(self.marked) == 2 else [self._selected_snapshot() or "", "current"]
        if name is None or not picked[0]:
            self.notify(
                "mark two snapshots (space), or select one to compare with the current state",
                severity="warning",
            )
            return
        old, new = sorted(picked, key=lambda v: (v == "current", int(v[1:]) if v[1:].isdigit() else 0))
        self.app.push_screen(SnapshotDiffScreen(name, old, new))

    def action_detect(self) -> None:
        name = self.selected_stack
        if name is not None:
            self.notify(f"detecting drift of {name}…")
            self.console.call(lambda c: c.detect_drift(name), self._detected, "detecting drift")

    def _detected(self, report: dict[str, Any]) -> None:
        self.notify(f"drift of {report['stack']}: {report['drifted']} drifted, {report['errors']} unreadable")
        self.query_one("#stack-tabs", TabbedContent).active = "tab-drift"
        self._load_selected()

    def action_fix(self) -> None:
        name = self.selected_stack
        if name is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.console.call(lambda c: c.fix_drift(name), fixed, "fixing drift")

        def fixed(doc: dict[str, Any]) -> None:
            runs = ", ".join(doc["run_ids"]) or "none"
            cannot = "; ".join(f"{u['resource']}: {u['why']}" for u in doc["unfixable"])
            self.notify(f"fix runs started: {runs}" + (f" — cannot fix {cannot}" if cannot else ""))
            self.console.load_runs()
            if doc["run_ids"]:
                self.console.open_run(doc["run_ids"][0])

        question = f"Fix the drift of stack '{name}'? The tasks owning the drifted resources run again."
        self.app.push_screen(ConfirmScreen(question, "Fix drift"), confirmed)
