"""RunDialog: pick a workflow (from the master's watched folder, or a local file) and its values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

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
    """Opens on the workflow picker: Enter (or a click) picks a workflow and moves to its
    values; Enter in a field, or the Run button, starts it. Nothing runs on the first Enter."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, workflows: list[dict[str, Any]], preselect: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.workflows = [w for w in workflows if w.get("workflow") and not w.get("error")]
        self.preselect = preselect
        self.picked: str | None = None
        """The option picked (an index of `workflows`, or LOCAL); None until one is."""

    def compose(self) -> ComposeResult:
        options = [
            Option(f"{w['workflow']}  ({_name(w['file'])})", str(i)) for i, w in enumerate(self.workflows)
        ]
        options.append(Option("a local file…", LOCAL))
        with Vertical(id="dialog"):
            yield Label("Run a workflow: pick one (Enter), then its values", id="question")
            yield OptionList(*options, id="workflow")
            yield Label("", id="picked")
            yield Input(placeholder="local file: path/to/file.sloth", id="path")
            yield Input(placeholder="local file: workflow name (empty: all of the file)", id="name")
            yield Input(placeholder="values: k=v, k2=v2  or  values.yaml", id="values")
            yield Input(placeholder="params: k=v, k2=v2", id="params")
            yield Label("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Run", variant="primary", id="run")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        picker = self.query_one("#workflow", OptionList)
        picker.highlighted = 0
        if self.preselect is not None:
            for i, w in enumerate(self.workflows):
                if (w["file"], w["workflow"]) == self.preselect:
                    picker.highlighted = i
        self._local_fields()
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.picked = event.option.id
        self._local_fields()
        label = "a local file" if self.picked == LOCAL else self._chosen()["workflow"]
        self.query_one("#picked", Label).update(f"{label}: Enter in a field (or Run) starts it")
        self.query_one("#path" if self.picked == LOCAL else "#values", Input).focus()

    def _local_fields(self) -> None:
        local = self.picked == LOCAL
        for field_id in ("#path", "#name"):
            self.query_one(field_id, Input).display = local

    def _chosen(self) -> dict[str, Any]:
        return self.workflows[int(self.picked or 0)]

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
        if self.picked is None:
            raise ValueError("pick a workflow first (Enter on it)")
        values_text = self.query_one("#values", Input).value.strip()
        params = parse_pairs(self.query_one("#params", Input).value)
        values_file = values_text if values_text.endswith((".yaml", ".yml", ".json")) else ""
        values = {} if values_file else parse_pairs(values_text)
        if self.picked == LOCAL:
            path = self.query_one("#path", Input).value.strip()
            if not path:
                raise ValueError("give the path of a workflow file")
            workflow = self.query_one("#name", Input).value.strip()
            return RunChoice(path, workflow, False, values, values_file, params)
        chosen = self._chosen()
        return RunChoice(chosen["file"], chosen["workflow"], True, values, values_file, params)


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
