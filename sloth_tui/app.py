"""SlothApp: the console's wiring: screens, keys, the palette, the master's live streams.

The App receives its client (sloth_daemon.client.MasterClient, or a fake in tests) and never
does I/O on the UI thread: calls run in thread workers that post `Answered` / `Failed`, and
the event and agent streams fill an inbox that the UI takes in batches.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from sloth_daemon.errors import MasterUnavailable
from sloth_tui.actions import cancel_run, retry_run, start_run
from sloth_tui.commands import ConsoleCommands
from sloth_tui.model import ConsoleState
from sloth_tui.screen_list import BY_NAME, SCREENS
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.run_detail import RunDetailScreen
from sloth_tui.streams import Follower, Inbox

log = logging.getLogger(__name__)

RUN_EVENTS = ("workflow.",)
LOCK_EVENTS = ("lock.", "snapshot.", "stack.", "drift.")
STREAM_THREADS = 64
"""Worker threads: each open stream holds one until its next item (or the app's exit)."""


SCREEN_KEYS = Binding.Group("Screens", compact=True)
"""The number keys show in the footer as one group: `123456789 Screens`."""


class SlothApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Sloth Runner"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        Binding("colon,ctrl+p", "command_palette", "Palette", key_display=":", show=False),
        *(
            Binding(str(number), f"go('{entry.name}')", entry.key_label, group=SCREEN_KEYS)
            for number, entry in enumerate(SCREENS, 1)
        ),
        Binding("n", "run_workflow", "Run workflow"),
        Binding("q", "quit", "Quit"),
    ]

    class InboxFilled(Message):
        """Stream items wait in the app's inbox."""

    class Answered(Message):
        """A call made by `call()` returned."""

        def __init__(self, value: Any, then: Callable[[Any], None]) -> None:
            super().__init__()
            self.value = value
            self.then = then

    class Failed(Message):
        """A call made by `call()` raised (a SlothError, or anything at the boundary)."""

        def __init__(self, what: str, error: Exception) -> None:
            super().__init__()
            self.what = what
            self.error = error

    def __init__(self, client: Any, address: str = "", clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.client = client
        self.address = address or getattr(client, "address", "")
        self.clock = clock
        self.state = ConsoleState()
        self.inbox: Inbox[tuple[str, Any]] = Inbox()
        self.stopping = threading.Event()

    # ---- start and stop -----------------------------------------------------------------

    def on_mount(self) -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(STREAM_THREADS, "sloth-tui"))
        self.go("overview")
        self.load_all()
        self.follow("events", lambda: self.client.watch_events())
        self.follow("agents", lambda: self.client.watch_agents())

    def on_unmount(self) -> None:
        self.stopping.set()
        try:
            self.client.close()  # ends every open stream, so the worker threads can finish
        except Exception:
            log.exception("closing the client failed")

    # ---- calls and streams --------------------------------------------------------------

    @work(thread=True, group="calls")
    def call(self, fn: Callable[[Any], Any], then: Callable[[Any], None], what: str) -> None:
        """fn(client) on a worker thread; then(value) back on the UI thread."""
        try:
            value = fn(self.client)
        except Exception as exc:  # the boundary: shown to the operator, never a crash
            if not self.stopping.is_set():
                self.post_message(self.Failed(what, exc))
            return
        self.post_message(self.Answered(value, then))

    def on_sloth_app_answered(self, message: Answered) -> None:
        from textual.css.query import NoMatches
        from textual.widget import Widget

        owner = getattr(message.then, "__self__", None)
        if isinstance(owner, Widget) and not owner.is_attached:
            return  # the screen that asked is gone
        try:
            message.then(message.value)
        except NoMatches:  # a closure of a screen that is gone
            log.debug("answer for a closed screen dropped")

    def on_sloth_app_failed(self, message: Failed) -> None:
        if isinstance(message.error, MasterUnavailable):
            self._connection(False, str(message.error))
        self.notify(f"{message.what}: {message.error}", severity="error", timeout=8)

    @work(thread=True, group="streams")
    def follow(self, kind: str, open_stream: Callable[[], Any]) -> None:
        def on_item(item: Any) -> None:
            if self.inbox.put((kind, item)):
                self.post_message(self.InboxFilled())

        def on_state(up: bool, why: str) -> None:
            if self.inbox.put(("connection", (up, why))):
                self.post_message(self.InboxFilled())

        Follower(open_stream, on_item, on_state, self.stopping).run()

    def on_sloth_app_inbox_filled(self, message: InboxFilled) -> None:
        kinds: set[str] = set()
        events: list[dict[str, Any]] = []
        for kind, item in self.inbox.take():
            if kind == "agents":
                self.state.apply_agent(item)
                kinds.add("agents")
            elif kind == "events":
                events.append(item)
            elif kind == "connection":
                self._connection(*item)
        if events:
            kinds |= self._events(events)
        self.changed(kinds)

    def _events(self, events: list[dict[str, Any]]) -> set[str]:
        self.state.add_events(events)
        kinds = {"events"}
        unknown = False
        for event in events:
            kind = str(event["type"])
            if kind.startswith(RUN_EVENTS):
                kinds.add("runs")
                unknown = not self.state.apply_run_event(event) or unknown
            if kind.startswith(LOCK_EVENTS):
                kinds.add("stacks")
            if kind.startswith("schedule."):
                kinds.add("schedules")
        if unknown:
            self.load_runs()
        if "stacks" in kinds:
            self.load_locks()
        return kinds

    def _connection(self, up: bool, why: str) -> None:
        was = self.state.connected
        self.state.connected, self.state.problem = up, ("" if up else why)
        if up and not was:
            self.load_all()
        self.changed({"connection"})

    def changed(self, kinds: set[str]) -> None:
        """Tell every console screen on the stack that the model changed."""

        if not kinds:
            return
        for screen in self.screen_stack:
            if not isinstance(screen, ConsoleScreen):
                continue
            if screen is self.screen or "connection" in kinds:
                screen.console_changed(kinds)
            else:
                screen.stale = True  # redrawn when shown again: hidden screens cost nothing

    # ---- loading ------------------------------------------------------------------------

    def load_all(self) -> None:
        def fetch(c: Any) -> dict[str, Any]:
            found = {
                "runs": c.list_runs(limit=100),
                "agents": c.list_agents(),
                "locks": c.list_locks(),
                "events": c.list_events(limit=200),
            }
            try:
                found["workflows"] = c.list_workflows()
            except Exception:  # a master without --watch has no folder of workflows
                found["workflows"] = []
            return found

        self.call(fetch, self._loaded, "loading from the master")

    def _loaded(self, found: dict[str, Any]) -> None:
        self.state.set_runs(found["runs"])
        for info in found["agents"]:
            self.state.apply_agent(info)
        self.state.locks = found["locks"]
        self.state.add_events(found["events"])
        self.state.workflows = found["workflows"]
        if not self.state.connected:
            self.state.connected, self.state.problem = True, ""
        self.changed({"runs", "agents", "locks", "events", "connection", "workflows"})

    def load_runs(self) -> None:
        self.call(lambda c: c.list_runs(limit=100), self._runs_loaded, "listing runs")

    def _runs_loaded(self, rows: list[dict[str, Any]]) -> None:
        self.state.set_runs(rows)
        self.changed({"runs"})

    def load_locks(self) -> None:
        self.call(lambda c: c.list_locks(), self._locks_loaded, "listing locks")

    def _locks_loaded(self, rows: list[dict[str, Any]]) -> None:
        self.state.locks = rows
        self.changed({"locks"})

    # ---- navigation ---------------------------------------------------------------------

    def action_go(self, name: str) -> None:
        self.go(name)

    def go(self, name: str) -> None:
        """Show screen `name`: back down to it if it is on the stack, else on top."""
        import importlib

        if not self.is_screen_installed(name):
            module, cls = BY_NAME[name].module, BY_NAME[name].cls
            self.install_screen(getattr(importlib.import_module(module), cls)(), name)
        target = self.get_screen(name)
        if self.screen is target:
            return
        if target in self.screen_stack:
            while self.screen is not target:
                self.pop_screen()
            return
        self.push_screen(name)

    def back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def open_run(self, run_id: str) -> None:
        self.push_screen(RunDetailScreen(run_id))

    # ---- actions ------------------------------------------------------------------------

    def action_run_workflow(self, file: str = "", workflow: str = "") -> None:
        start_run(self, (file, workflow) if file else None)

    def cancel_run(self, run_id: str) -> None:
        cancel_run(self, run_id)

    def retry_run(self, run_id: str, workflow: str, again: list[str], failed_only: bool = True) -> None:
        retry_run(self, run_id, workflow, again, failed_only)
