"""ConsoleCommands: what `:` offers: every screen, the current screen's actions, run a workflow
(each workflow of the master's folder by name), open or cancel a recent run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from sloth_tui.screen_list import SCREENS

if TYPE_CHECKING:
    from sloth_tui.app import SlothApp


class ConsoleCommands(Provider):
    @property
    def console(self) -> SlothApp:
        return self.app  # type: ignore[return-value]

    def commands(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        """(text, callback, help) of every command, screens first."""
        app = self.console
        for entry in SCREENS:
            title = entry.title
            yield f"Go to {title}", partial(app.go, entry.name), f"show the {title.lower()} screen"
        yield from self._screen_actions()
        yield "Run workflow…", app.action_run_workflow, "pick a workflow and its values, then run it"
        for w in app.state.workflows:
            if w.get("workflow") and not w.get("error"):
                run = partial(app.action_run_workflow, w["file"], w["workflow"])
                yield f"Run {w['workflow']} ({w['file'].rsplit('/', 1)[-1]})", run, w.get("description") or ""
        for run_row in app.state.sorted_runs()[:30]:
            label = f"{run_row['workflow']} {run_row['run_id']} [{run_row.get('status')}]"
            yield f"Open run {label}", partial(app.open_run, run_row["run_id"]), "the run's live DAG"
        for run_row in app.state.in_flight()[:10]:
            label = f"{run_row['workflow']} {run_row['run_id']}"
            yield f"Cancel run {label}", partial(app.cancel_run, run_row["run_id"]), "asks first"

    def _screen_actions(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        screen = self.screen
        skip = {"back", "filter", "help", "command_palette", "go", "quit", "run_workflow"}
        for binding in getattr(screen, "BINDINGS", ()):
            action = getattr(binding, "action", "")
            if not getattr(binding, "description", "") or action.split("(")[0] in skip:
                continue
            run = partial(self.app.call_later, screen.run_action, action)
            yield (
                f"{binding.description} ({binding.key})",
                run,
                f"on this screen ({screen.__class__.__name__})",
            )

    async def discover(self) -> Hits:
        for text, callback, help_text in self.commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self.commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, text=text, help=help_text)
