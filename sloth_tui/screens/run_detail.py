"""RunDetailScreen: one run's live DAG, the selected task's state, outputs and live log."""

from __future__ import annotations

import threading
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message

from sloth_daemon.client import RunCursor
from sloth_engine.executor.results import RunResult
from sloth_engine.spec import RunStatus, TaskStatus
from sloth_tui.dag import RunView
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.task_log import TaskLogScreen
from sloth_tui.streams import Follower, Inbox
from sloth_tui.widgets.dag_view import DagView
from sloth_tui.widgets.run_summary import RunSummary
from sloth_tui.widgets.task_panel import TaskPanel

REUSED = (TaskStatus.SUCCESS, TaskStatus.UNCHANGED)
"""What a failed-only retry does not run again, when every task it depends on is kept too
(the rule of sloth_engine.retry, which the master applies)."""
FRAME_RATE = 12.5
"""Most DAG redraws per second while a run streams (the stream's batches are merged)."""


class RunDetailScreen(ConsoleScreen):
    TITLE_TEXT = "Run"
    BINDINGS = [
        Binding("c", "cancel_run", "Cancel run"),
        Binding("t", "retry(True)", "Retry failed", tooltip="run again only the failed and skipped tasks"),
        Binding("T", "retry(False)", "Run all again", tooltip="run every task of the workflow again"),
        Binding("f", "first_failed", "First failure"),
        Binding("o,enter", "open_log", "Full log"),
    ]

    class Updated(Message):
        """Items of the run's stream wait in the screen's inbox."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run = RunView(run_id)
        self.inbox: Inbox[Any] = Inbox()
        self.stop = threading.Event()
        self.following = False
        self.pending: set[str | None] = set()
        """Tasks changed since the last frame (None: the run itself)."""
        self.replays: bool | None = None
        """Whether the run's stream replays its events (None until its first item)."""
        self.TITLE_TEXT = f"Run {run_id}"

    def compose_body(self) -> ComposeResult:
        yield RunSummary(self.run, clock=self.console.clock, id="run-summary")
        with Horizontal(id="run-body"):
            yield DagView(self.run, clock=self.console.clock, id="dag")
            yield TaskPanel(id="task-panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DagView).focus()
        self.set_interval(1.0, self._tick)
        self.set_interval(1 / FRAME_RATE, self._frame)

    def on_unmount(self) -> None:
        self.stop.set()

    # ---- loading and following ------------------------------------------------------------

    def reload(self) -> None:
        run_id = self.run.run_id

        def fetch(c: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            return c.run_graph(run_id), c.get_run(run_id)

        self.console.call(fetch, self._loaded, f"loading run {run_id}")

    def _loaded(self, found: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
        graph, run = found
        if graph:
            self.run.set_graph(graph)
        self.run.apply_run(run)
        self._redraw()
        dag = self.query_one(DagView)
        if not self.following:
            failed = self.run.failed()
            if failed:
                dag.select(failed[0])
            else:
                dag.action_move(0, 0)
        if not self.following:
            self.following = True
            self.follow_run()

    @work(thread=True, group="run-stream")
    def follow_run(self) -> None:
        client, cursor = self.console.client, RunCursor()

        def on_item(item: Any) -> None:
            if self.inbox.put(item):
                self.post_message(self.Updated())

        def on_state(up: bool, why: str) -> None:
            on_item(("connection", up, why))

        def open_stream() -> Any:
            return client.follow_run(
                self.run.run_id,
                reconnect_for=2.0,
                cursor=cursor,
                on_reconnect=lambda why: on_state(False, why),
            )

        Follower(open_stream, on_item, on_state, self.stop, last=lambda i: isinstance(i, RunResult)).run()

    def on_run_detail_screen_updated(self, message: Updated) -> None:
        touched: set[str | None] = set()
        for item in self.inbox.take():
            if isinstance(item, tuple):
                _kind, up, why = item
                self.console.state.connected, self.console.state.problem = up, ("" if up else why)
                self.show_connection()
                continue
            if self.replays is None:
                # The master replays a run it still holds (its log lines too); for an older run
                # it sends the report alone, and the log of a task is read when it is selected.
                self.replays = not isinstance(item, RunResult)
                selected = self.query_one(DagView).selected
                if not self.replays and selected is not None:
                    self._fetch_log(selected)
            touched.add(self.run.apply(item))
        self._redraw(touched)

    # ---- drawing --------------------------------------------------------------------------

    def _redraw(self, touched: set[str | None] | None = None) -> None:
        """Redraw now after a load; stream batches are drawn by `_frame`, at most FRAME_RATE/s."""
        self.pending |= touched if touched is not None else {None}
        if touched is None:
            self._frame()

    def _frame(self) -> None:
        if not self.pending:
            return
        touched, self.pending = self.pending, set()
        dag = self.query_one(DagView)
        dag.changed()
        self._summary()
        selected = dag.selected
        if selected is not None and (selected in touched or None in touched):
            self._show_task(selected)

    def _tick(self) -> None:
        if self.run.status == RunStatus.RUNNING:
            self.query_one(DagView).refresh()
            self._summary()

    def _summary(self) -> None:
        self.query_one(RunSummary).refresh()

    def _show_task(self, name: str) -> None:
        task = self.run.tasks.get(name)
        if task is None:
            return
        panel = self.query_one(TaskPanel)
        panel.show_task(task, self.console.clock(), self.run.dependents(name))

    def on_dag_view_task_selected(self, event: DagView.TaskSelected) -> None:
        self._show_task(event.task)
        task = self.run.tasks.get(event.task)
        started = task is not None and task.status != TaskStatus.PENDING
        if self.replays is False and task is not None and task.log_total == 0 and started:
            self._fetch_log(event.task)

    def _fetch_log(self, name: str) -> None:
        run_id = self.run.run_id

        def loaded(rows: list[dict[str, Any]]) -> None:
            task = self.run.tasks.get(name)
            if task is None or task.log_total:
                return
            for row in rows:
                task.log.append((row["stream"], row["line"]))
            task.log_total = len(rows)
            if self.query_one(DagView).selected == name:
                self._show_task(name)

        self.console.call(lambda c: c.run_logs(run_id, name), loaded, f"reading the log of {name}")

    def tables(self) -> list[Any]:
        return [self.query_one(DagView)]

    # ---- actions --------------------------------------------------------------------------

    def action_cancel_run(self) -> None:
        if self.run.status != RunStatus.RUNNING:
            self.notify(f"run {self.run.run_id} has finished ({self.run.status})", severity="warning")
            return
        self.console.cancel_run(self.run.run_id)

    def action_retry(self, failed_only: bool) -> None:
        """A new run of this run's workflow: its failed and skipped tasks only (the others'
        outputs reused), or every task."""
        if self.run.status == RunStatus.RUNNING:
            self.notify("the run is still running: retry once it has finished", severity="warning")
            return
        kept: set[str] = set()
        for name in (n for column in self.run.columns for n in column):  # dependencies first
            task = self.run.tasks[name]
            if task.status in REUSED and all(d in kept for d in task.depends_on if d in self.run.tasks):
                kept.add(name)
        again = [name for name in self.run.tasks if name not in kept]
        if failed_only and self.run.tasks and not again:
            self.notify(
                f"every task of run {self.run.run_id} succeeded: nothing to retry", severity="warning"
            )
            return
        self.console.retry_run(self.run.run_id, self.run.workflow, again, failed_only)

    def action_open_log(self) -> None:
        """The selected task's output, full screen (follows it while the task runs)."""
        task = self.query_one(DagView).selected
        if task is None or task not in self.run.tasks:
            return
        if self.replays is False and self.run.tasks[task].log_total == 0:
            self._fetch_log(task)
        self.app.push_screen(TaskLogScreen(self.run, task))

    def action_first_failed(self) -> None:
        failed = self.run.failed()
        if failed:
            self.query_one(DagView).select(failed[0])
