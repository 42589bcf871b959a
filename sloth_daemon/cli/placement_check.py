"""Warnings before a run: delegated tasks that no connected agent can take.

`run --plan` and `workflow validate` say, for each task delegated to an agent name or tags,
when no agent connected to the master matches it (so the run would fail or wait), or, with
no master at all, that a local run will refuse them. The run itself is not refused here:
agents may connect before it starts.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

from sloth_engine.errors import SlothError
from sloth_engine.spec import WorkflowSpec


def placement_warnings(workflows: list[WorkflowSpec], master: str | None) -> list[str]:
    delegated = [(wf, task) for wf in workflows for task in wf.tasks.values() if not task.placement.local]
    if not delegated:
        return []
    if not master:
        return [
            f"warning: {wf.name}.{task.name} is delegated to {task.placement.describe()}: a run "
            "needs a master (--master or $SLOTH_MASTER) to find agents"
            for wf, task in delegated
            if not wf.config.get("fallback_local")
        ]
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import MasterClient

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.master.placement import matches

    try:
        with MasterClient(master) as client:
            agents = [_view(a) for a in client.list_agents() if a["status"] == "connected"]
    except SlothError as exc:  # the file is still valid; only the check could not be made
        return [f"warning: cannot ask master {master} which agents are connected: {exc}"]
    connected = ", ".join(sorted(a.name for a in agents)) or "none"
    return [
        f"warning: {wf.name}.{task.name} is delegated to {task.placement.describe()}, but no connected "
        f"agent matches (connected: {connected})"
        for wf, task in delegated
        if not any(matches(agent, task.placement) for agent in agents)
    ]


def warn_placement(workflows: list[WorkflowSpec], master: str | None) -> None:
    for line in placement_warnings(workflows, master):
        print(line, file=sys.stderr)


def _view(agent: dict[str, Any]) -> Any:
    return SimpleNamespace(name=agent["name"], address=agent["address"], tags=agent["tags"])
