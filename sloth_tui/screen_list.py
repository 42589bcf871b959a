"""The console's screens, declared once: the number keys, the palette and the app's screen
switching read this table."""

from __future__ import annotations

from typing import NamedTuple


class ScreenEntry(NamedTuple):
    name: str
    title: str
    """In the palette ("Go to ...")."""
    key_label: str
    """The number key's description."""
    module: str
    cls: str


SCREENS = (
    ScreenEntry("overview", "Overview", "Overview", "sloth_tui.screens.overview", "OverviewScreen"),
    ScreenEntry("agents", "Agents", "Agents", "sloth_tui.screens.agents", "AgentsScreen"),
    ScreenEntry(
        "locks", "State & locks", "State & locks", "sloth_tui.screens.state_locks", "StateLocksScreen"
    ),
    ScreenEntry("stacks", "Stacks", "Stacks", "sloth_tui.screens.stacks", "StacksScreen"),
    ScreenEntry("scheduler", "Scheduler", "Scheduler", "sloth_tui.screens.scheduler", "SchedulerScreen"),
    ScreenEntry("events", "Events", "Events", "sloth_tui.screens.events", "EventsScreen"),
    ScreenEntry("hooks", "Hooks", "Hooks", "sloth_tui.screens.hooks", "HooksScreen"),
    ScreenEntry("secrets", "Secrets", "Secrets", "sloth_tui.screens.secrets", "SecretsScreen"),
    ScreenEntry("tokens", "Tokens (admin)", "Tokens", "sloth_tui.screens.tokens", "TokensScreen"),
)
"""In number-key order (1-9)."""
BY_NAME = {entry.name: entry for entry in SCREENS}
