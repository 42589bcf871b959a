"""AgentsScreen: every agent with its state and load; the selected one in detail (sparklines)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable

from sloth_tui.display import ago, tags
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.output import ExecScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.screens.steer import ask, confirm
from sloth_tui.widgets.agent_panel import AgentPanel
from sloth_tui.widgets.filter_table import FilterTable


class AgentsScreen(ConsoleScreen):
    TITLE_TEXT = "Agents"
    BINDINGS = [
        Binding("x", "exec", "Exec command"),
        Binding("s", "stop", "Stop agent"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="agents-body"):
            yield FilterTable(
                "agent",
                "status",
                "address",
                "tags",
                "cpu",
                "mem",
                "disk",
                "tasks",
                "heartbeat",
                id="agent-table",
            )
            yield AgentPanel(id="agent-panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(FilterTable).focus()

    def reload(self) -> None:
        self.console.call(lambda c: c.list_agents(), self._agents, "listing agents")

    def _agents(self, rows: list[dict[str, Any]]) -> None:
        for info in rows:
            self.console.state.apply_agent(info)
        self.refresh_view({"agents"})
        self._ask_tasks()

    def refresh_view(self, kinds: set[str]) -> None:
        if kinds and not kinds & {"agents", "connection"}:
            return
        now = self.console.clock()
        rows = []
        for agent in self.console.state.agents_sorted():
            info, metrics = agent.info, agent.info.get("metrics") or {}
            cells = (
                agent.name,
                coloured(self.app, info.get("status") or "?"),
                info.get("address") or "",
                tags(info.get("tags") or {}),
                f"{metrics.get('cpu_percent', 0):.0f}%",
                f"{metrics.get('mem_percent', 0):.0f}%",
                f"{metrics.get('disk_percent', 0):.0f}%",
                f"{info.get('running_tasks', 0)}/{info.get('max_tasks', 0)}",
                ago(info.get("last_heartbeat"), now),
            )
            rows.append((agent.name, cells))
        table = self.query_one(FilterTable)
        table.show(rows)
        self._show_selected()
        selected = self.console.state.agents.get(table.selected_key or "")
        if selected is not None and selected.info.get("running_tasks", 0) != len(selected.tasks):
            self._ask_tasks()

    def _show_selected(self) -> None:
        name = self.query_one(FilterTable).selected_key
        agent = self.console.state.agents.get(name or "")
        if agent is not None:
            self.query_one(AgentPanel).show_agent(agent, self.console.clock())

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_selected()
        self._ask_tasks()

    def _ask_tasks(self) -> None:
        name = self.query_one(FilterTable).selected_key
        agent = self.console.state.agents.get(name or "")
        if agent is None:
            return

        def got(tasks: list[tuple[str, str]]) -> None:
            agent.tasks = tasks
            self._show_selected()

        self.console.call(lambda c: c.agent_tasks(agent.name), got, f"tasks of {agent.name}")

    # ---- steering ---------------------------------------------------------------------------

    def action_exec(self) -> None:
        """A shell command on the selected agent (asked first), its output streamed."""

        name = self.query_one(FilterTable).selected_key
        if not name:
            self.notify("no agent selected", severity="warning")
            return

        def command(text: str) -> None:
            confirm(
                self.app,
                f"Run `{text}` on agent '{name}'?",
                "Run",
                lambda: self.app.push_screen(ExecScreen(name, text)),
            )

        ask(self.app, f"Command to run on agent '{name}':", command, "uptime")

    def action_stop(self) -> None:
        name = self.query_one(FilterTable).selected_key
        if not name:
            self.notify("no agent selected", severity="warning")
            return

        def stop() -> None:
            self.console.call(
                lambda c: c.stop_agent(name, "stopped from the console"),
                lambda _: self.notify(f"agent {name}: stop sent"),
                f"stopping {name}",
            )

        confirm(self.app, f"Stop agent '{name}'? Its process exits; its running tasks fail.", "Stop", stop)
