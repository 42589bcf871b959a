"""Modal screens that show text: a fixed text (a hook's runs), or a command's output streamed
from an agent as it comes (`ExecScreen`). Esc closes; closing stops following the stream."""

from __future__ import annotations

import threading
from typing import Any, cast

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import RichLog, Static


class TextScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, lines: list[str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines or []

    def compose(self) -> ComposeResult:
        with Vertical(id="output-dialog"):
            yield Static(self.title_text, id="output-title")
            yield RichLog(id="output", wrap=True, markup=True, max_lines=5000)

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for line in self.lines:
            log.write(line)

    def write(self, line: str) -> None:
        self.query_one(RichLog).write(line)

    def action_close(self) -> None:
        self.dismiss(None)


class ExecScreen(TextScreen):
    """`command` run on agent `name` through the master; stdout and stderr (red) as they come,
    then the exit code."""

    def __init__(self, name: str, command: str) -> None:
        super().__init__(f"{name}$ {command}")
        self.agent = name
        self.command = command
        self.closed = threading.Event()
        self.exit_code: int | None = None

    def on_mount(self) -> None:
        self.follow()

    @work(thread=True, group="exec")
    def follow(self) -> None:
        client: Any = cast(Any, self.app).client
        try:
            for item in client.exec_on_agent(self.agent, self.command):
                if self.closed.is_set():
                    return
                if hasattr(item, "exit_code"):
                    self.exit_code = int(item.exit_code)
                    tail = f" ({item.error})" if getattr(item, "error", "") else ""
                    self.app.call_from_thread(self.write, f"[b]exit {item.exit_code}{escape(tail)}[/b]")
                    return
                text = escape(item.line)
                self.app.call_from_thread(
                    self.write, f"[red]{text}[/red]" if item.stream == "stderr" else text
                )
        except Exception as exc:  # the boundary of a worker: shown, never a crash
            if not self.closed.is_set():
                self.app.call_from_thread(self.write, f"[red]error: {escape(str(exc))}[/red]")

    def action_close(self) -> None:
        self.closed.set()
        self.dismiss(None)
