"""RunDialog: pick a workflow (from the master's watched folder, or a local file) and its values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

LOCAL = "__local__"


@dataclass
class RunChoice:
    """What to run: a file of the master's folder (`catalog`) or a local file, with values."""

    file: str
    workflow: str = ""
    catalog: bool = True
    values: dict[str, Any] = field(default_factory=dict)
    values_file: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def parse_pairs(text: str) -> dict[str, Any]:
    """`a=1, b=x` → {"a": 1, "b": "x"} (a value that reads as JSON is taken as JSON)."""
    pairs: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"'{part.strip()}' is not key=value")
        try:
            pairs[key.strip()] = json.loads(value.strip())
        except ValueError:
            pairs[key.strip()] = value.strip()
    return pairs


class RunDialog(ModalScreen[RunChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, workflows: list[dict[str, Any]], preselect: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.workflows = [w for w in workflows if w.get("workflow") and not w.get("error")]
        self.preselect = preselect

    def compose(self) -> ComposeResult:
        options = [(f"{w['workflow']}  ({_name(w['file'])})", str(i)) for i, w in enumerate(self.workflows)]
        options.append(("a local file…", LOCAL))
        first = options[0][1]
        if self.preselect is not None:
            for i, w in enumerate(self.workflows):
                if (w["file"], w["workflow"]) == self.preselect:
                    first = str(i)
        with Vertical(id="dialog"):
            yield Label("Run a workflow", id="question")
            yield Select(options, value=first, allow_blank=False, id="workflow")
            yield Input(placeholder="local file: path/to/file.sloth", id="path")
            yield Input(placeholder="local file: workflow name (empty: all of the file)", id="name")
            yield Input(placeholder="values: k=v, k2=v2  or  values.yaml", id="values")
            yield Input(placeholder="params: k=v, k2=v2", id="params")
            yield Label("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Run", variant="primary", id="run")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._local_fields()
        self.query_one("#run", Button).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._local_fields()

    def _local_fields(self) -> None:
        local = self.query_one("#workflow", Select).value == LOCAL
        for field_id in ("#path", "#name"):
            self.query_one(field_id, Input).display = local

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        try:
            choice = self.choice()
        except ValueError as exc:
            self.query_one("#problem", Label).update(str(exc))
            return
        self.dismiss(choice)

    def choice(self) -> RunChoice:
        picked = str(self.query_one("#workflow", Select).value)
        values_text = self.query_one("#values", Input).value.strip()
        params = parse_pairs(self.query_one("#params", Input).value)
        values_file = values_text if values_text.endswith((".yaml", ".yml", ".json")) else ""
        values = {} if values_file else parse_pairs(values_text)
        if picked == LOCAL:
            path = self.query_one("#path", Input).value.strip()
            if not path:
                raise ValueError("give the path of a workflow file")
            workflow = self.query_one("#name", Input).value.strip()
            return RunChoice(path, workflow, False, values, values_file, params)
        chosen = self.workflows[int(picked)]
        return RunChoice(chosen["file"], chosen["workflow"], True, values, values_file, params)


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
