"""AgentPanel: one agent in detail: CPU, memory and disk sparklines from its heartbeats, its
tags, version, modules and the tasks it is running."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline, Static

from sloth_tui.display import ago, size, tags
from sloth_tui.model import AgentView

METRICS = (("cpu", "CPU"), ("mem", "memory"), ("disk", "disk"))


class AgentPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("select an agent", id="agent-info")
        for key, title in METRICS:
            yield Label(title, id=f"{key}-label", classes="metric-label")
            yield Sparkline([], id=f"{key}-spark", classes="metric")
        yield Static("", id="agent-tasks")

    def show_agent(self, agent: AgentView, now: float) -> None:
        info: dict[str, Any] = agent.info
        metrics = info.get("metrics") or {}
        every = info.get("heartbeat_interval_s", 0)
        slots = f"{info.get('running_tasks', 0)}/{info.get('max_tasks', 0)}"
        lines = [
            f"{info['name']}  {info.get('status')}  {info.get('address') or ''}",
            f"tags: {tags(info.get('tags') or {})}",
            f"version {info.get('version') or '-'}   slots {slots}",
            f"heartbeat {ago(info.get('last_heartbeat'), now)} (every {every:g}s)",
            f"memory {size(metrics.get('mem_used'))} of {size(metrics.get('mem_total'))}"
            f"   disk {size(metrics.get('disk_used'))} of {size(metrics.get('disk_total'))}"
            f"   load {' '.join(f'{x:.2f}' for x in metrics.get('load') or [])}",
            f"modules: {', '.join(info.get('modules') or []) or '-'}",
        ]
        self.query_one("#agent-info", Static).update("\n".join(lines))
        for key, title in METRICS:
            history = list(getattr(agent, key))
            latest = f"{history[-1]:.0f}%" if history else "-"
            self.query_one(f"#{key}-label", Label).update(
                f"{title} {latest}  (last {len(history)} heartbeats)"
            )
            self.query_one(f"#{key}-spark", Sparkline).data = history or [0.0]
        running = "\n".join(f"  {task}  (run {run_id})" for run_id, task in agent.tasks) or "  none"
        self.query_one("#agent-tasks", Static).update(f"running tasks:\n{running}")
