"""Actions on runs that several screens and the palette start: run a workflow, cancel, retry.

Each asks first when it is destructive, then makes its call through `app.call` (a worker).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.run_dialog import RunChoice, RunDialog

if TYPE_CHECKING:
    from sloth_tui.app import SlothApp


def submit(client: Any, choice: RunChoice) -> list[Any]:
    """Read the workflow (from the master's folder, or here) and its values, then submit."""
    if choice.catalog:
        source = client.workflow_source(choice.file)
    else:
        source = Path(choice.file).expanduser().read_text(encoding="utf-8")
    values = dict(choice.values)
    if choice.values_file:
        import yaml

        loaded = yaml.safe_load(Path(choice.values_file).expanduser().read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{choice.values_file}: values must be a mapping")
        values = {**loaded, **values}
    return client.submit_run(choice.file, source, choice.workflow, values=values, params=choice.params)


def start_run(app: SlothApp, preselect: tuple[str, str] | None = None) -> None:
    """The run dialog, then the run's detail screen."""

    def started(plan: list[Any]) -> None:
        names = ", ".join(f"{p.workflow} ({p.run_id})" for p in plan)
        app.notify(f"started {names}")
        app.load_runs()
        if plan:
            app.open_run(plan[0].run_id)

    def chosen(choice: RunChoice | None) -> None:
        if choice is not None:
            app.call(lambda c: submit(c, choice), started, "starting the run")

    app.push_screen(RunDialog(app.state.workflows, preselect), chosen)


def cancel_run(app: SlothApp, run_id: str) -> None:
    def confirmed(yes: bool | None) -> None:
        if yes:
            app.call(lambda c: c.cancel_run(run_id, "cancelled from the console"), cancelled, "cancelling")

    def cancelled(_: Any) -> None:
        app.notify(f"run {run_id}: cancel sent")

    app.push_screen(
        ConfirmScreen(f"Cancel run {run_id}? Its running tasks are killed.", "Cancel run"), confirmed
    )


def retry_run(app: SlothApp, run_id: str, workflow: str, again: list[str], failed_only: bool = True) -> None:
    """Ask, then run `run_id`'s workflow again on the master: only its failed and skipped
    tasks (`again`), the others' recorded outputs reused, or (not `failed_only`) all of it."""
    if failed_only:
        question = (
            f"Retry run {run_id}?\nRuns again only its failed and skipped tasks: "
            f"{', '.join(again) or 'none'};\nthe tasks that succeeded keep their outputs and do not run."
        )
    else:
        question = f"Run workflow '{workflow}' of run {run_id} again?\nEvery task runs again."

    def confirmed(yes: bool | None) -> None:
        if yes:
            app.call(lambda c: c.retry_run(run_id, failed_only), started, "retrying")

    def started(runs: list[tuple[str, str, list[str]]]) -> None:
        app.notify(f"run {run_id} retried as run {runs[0][0]}" if runs else "nothing started")
        app.load_runs()
        if runs:
            app.open_run(runs[0][0])

    app.push_screen(ConfirmScreen(question, "Retry" if failed_only else "Run again"), confirmed)
