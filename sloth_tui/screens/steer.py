"""Small dialogs the screens chain before they steer the master: ask for a line of text, ask
to confirm a destructive action. Each calls `then` only with an answer (Esc does nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.prompt import PromptScreen


def ask(
    app: Any, question: str, then: Callable[[str], None], placeholder: str = "", password: bool = False
) -> None:
    def answered(text: str | None) -> None:
        if text is not None and text.strip():
            then(text if password else text.strip())

    app.push_screen(PromptScreen(question, placeholder, password=password), answered)


def confirm(app: Any, question: str, yes: str, then: Callable[[], object]) -> None:
    def answered(ok: bool | None) -> None:
        if ok:
            then()

    app.push_screen(ConfirmScreen(question, yes), answered)


def read_file(path: str) -> str:
    """A file of this machine (the console's), for a hook or a schedule sent to the master."""
    from pathlib import Path

    return Path(path).expanduser().read_text(encoding="utf-8")
