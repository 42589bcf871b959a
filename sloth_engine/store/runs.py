"""Run history: runs, task attempts, captured output lines.

The write side is built for the executor's event loop: it calls `write_batch` once per tick with
everything that changed, and the batch lands in one transaction of raw SQL (executemany on
SQLite, execute_values on PostgreSQL). Attempt rows are upserts keyed by (run_id, task,
attempt) where a missing or None field keeps what the row had (so a "finished" row need not
repeat `started_at`); several rows for one attempt in a batch are merged first.
The read side (CLI, console, master restart) goes through the peewee models, imported inside
the readers: peewee takes ~30 ms to import, which a run that only writes should not pay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sloth_engine.errors import RunTransitionRefused, StoreError
from sloth_engine.spec import RUN_TRANSITIONS, RunStatus, TaskStatus
from sloth_engine.store.backend import Backend
from sloth_engine.store.events import EVENT_HEAD, EVENT_WIDTH, event_row, to_json
from sloth_engine.store.retry import retrying

ATTEMPT_FIELDS = (
    "run_id",
    "task",
    "attempt",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "agent",
    "message",
    "error",
    "outputs",
    "exit_code",
)
_ATTEMPT_HEAD = f"INSERT INTO task_runs ({', '.join(ATTEMPT_FIELDS)})"
_ATTEMPT_TAIL = "ON CONFLICT (run_id, task, attempt) DO UPDATE SET " + ", ".join(
    f"{c} = COALESCE(excluded.{c}, task_runs.{c})" for c in ATTEMPT_FIELDS[3:]
)
LOG_FIELDS = ("run_id", "task", "attempt", "stream", "seq", "ts", "line")
_LOG_HEAD = f"INSERT INTO run_logs ({', '.join(LOG_FIELDS)})"
_CREATE_RUN = (
    "INSERT INTO runs (run_id, workflow, file, stack, status, started_at, params, "
    "owner_host, owner_boot, owner_pid, owner_started, source_digest) "
    "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)"
)
_CLAIM_RUN = (
    "UPDATE runs SET owner_host = ?, owner_boot = ?, owner_pid = ?, owner_started = ? "
    "WHERE run_id = ? AND finished_at IS NULL RETURNING run_id"
)
_END_ATTEMPTS = (
    "UPDATE task_runs SET status = ?, finished_at = ?, message = ?, error = ? "
    "WHERE run_id = ? AND status IN ('pending', 'running', 'retrying')"
)
_LOCAL_UNFINISHED = (
    "SELECT run_id, owner_host, owner_boot, owner_pid, owner_started FROM runs "
    "WHERE finished_at IS NULL AND owner_pid IS NOT NULL "
    "AND run_id NOT IN (SELECT run_id FROM run_submissions)"
)
"""Unfinished runs of local processes (a master's runs have a submission: it resumes those)."""
_END_RUN = (
    "UPDATE runs SET status = ?, finished_at = ?, duration_s = ?, error = ? "
    "WHERE run_id = ? AND finished_at IS NULL AND status IN ({}) RETURNING run_id"
).format(", ".join(f"'{s.value}'" for s, ends in RUN_TRANSITIONS.items() if s is not None and ends))
"""Ends a run only from a state that may end (spec.RUN_TRANSITIONS): checked in the statement."""

AttemptRow = Mapping[str, Any]
LogRow = Sequence[Any]


class RunLog:
    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self._b = backend
        self.clock = clock
        self._create_sql = backend.sql(_CREATE_RUN)
        self._end_sql = backend.sql(_END_RUN)

    # ---- writes ---------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        workflow: str,
        file: str,
        stack: str | None,
        params: Mapping[str, Any] | None,
        started_at: float,
        owner: Any = None,
        source_digest: str | None = None,
    ) -> None:
        """Record a new run with status 'running', owned by `owner` (a run_owner.Owner), with
        the digest of its workflow file's text; refused when the id exists. Called by
        sloth_engine.run_transition only."""
        text = to_json(dict(params or {}))
        who = _owner_values(owner)
        values = (run_id, workflow, file, stack, started_at, text, *who, source_digest)
        try:
            self._b.execute(self._create_sql, values)
        except StoreError as exc:
            if self.get_run(run_id, with_tasks=False) is not None:
                raise StoreError(f"run {run_id} exists already") from None
            raise exc

    def save_attempts(self, rows: Sequence[AttemptRow]) -> None:
        """Upsert task attempts, all in one transaction."""
        self.write_batch(rows, (), ())

    def append_logs(self, rows: Sequence[LogRow]) -> None:
        """Append (run_id, task, attempt, stream, seq, ts, line) tuples in one transaction."""
        self.write_batch((), rows, ())

    def write_batch(
        self,
        attempts: Sequence[AttemptRow],
        logs: Sequence[LogRow],
        events: Sequence[Mapping[str, Any]],
    ) -> None:
        """Attempts, log lines and events (dicts as for EventLog) in one transaction."""
        if not attempts and not logs and not events:
            return
        attempt_rows = _attempt_rows(attempts) if attempts else ()
        now = self.clock()
        self.write_rows(attempt_rows, logs, [event_row(e, now) for e in events])

    def write_rows(
        self,
        attempts: Sequence[Sequence[Any]],
        logs: Sequence[LogRow],
        events: Sequence[Sequence[Any]],
    ) -> None:
        """Rows already in column order, in one transaction: attempts in ATTEMPT_FIELDS order
        (outputs as JSON text; at most one row per attempt), log lines in LOG_FIELDS order,
        events in EVENT_HEAD's (data as JSON text). What the run journal writes per flush."""
        if not attempts and not logs and not events:
            return
        b = self._b

        def once() -> None:
            with b.transaction():
                if attempts:
                    b.insert_rows(_ATTEMPT_HEAD, len(ATTEMPT_FIELDS), _ATTEMPT_TAIL, attempts)
                if logs:
                    b.insert_rows(_LOG_HEAD, len(LOG_FIELDS), "", logs)
                if events:
                    b.insert_rows(EVENT_HEAD, EVENT_WIDTH, "", events)

        retrying(once, b.display)  # a dropped connection or a failover: the batch again, whole

    def end_run(
        self,
        run_id: str,
        status: RunStatus,
        finished_at: float,
        duration_s: float,
        error: str | None,
        event: Mapping[str, Any] | None,
        close_attempts: bool = False,
    ) -> None:
        """End a running run and append its event (None: its journal wrote it already with the
        run's last transitions), in one transaction; `close_attempts` also
        ends its unfinished attempts (an end its owner did not write: abandoned, cancelled by
        hand, broken). Raises RunTransitionRefused when the run has ended already or does not
        exist. Called by sloth_engine.run_transition only."""
        status = RunStatus(status)
        b = self._b
        with b.transaction():
            ended = b.write(self._end_sql, (status.value, finished_at, duration_s, error, run_id))
            if ended:
                if close_attempts:
                    attempt = TaskStatus.FAILED if status is RunStatus.FAILED else TaskStatus.CANCELLED
                    b.execute(b.sql(_END_ATTEMPTS), (attempt.value, finished_at, error, error, run_id))
                if event is not None:
                    b.insert_rows(EVENT_HEAD, EVENT_WIDTH, "", [event_row(event, finished_at)])
        if not ended:
            raise RunTransitionRefused(run_id, self.status_of(run_id), status)

    def claim_run(self, run_id: str, owner: Any) -> None:
        """`owner` executes the unfinished run from now on (a master resuming it); refused
        when the run has ended. Called by sloth_engine.run_transition only."""
        if not self._b.write(self._b.sql(_CLAIM_RUN), (*_owner_values(owner), run_id)):
            raise RunTransitionRefused(run_id, self.status_of(run_id), RunStatus.RUNNING)

    def mark_resuming(self, run_id: str, at: float | None) -> None:
        """Set (a time) or clear (None) the run's resume marker; committed at once."""
        sql = "UPDATE runs SET resuming = ? WHERE run_id = ?"
        self._b.execute(self._b.sql(sql), (at, run_id))

    def status_of(self, run_id: str) -> RunStatus | None:
        """The run's recorded status (None: no such run)."""
        row = self._b.query_one(self._b.sql("SELECT status FROM runs WHERE run_id = ?"), (run_id,))
        return RunStatus(row[0]) if row else None

    def local_unfinished(self) -> list[dict[str, Any]]:
        """Unfinished runs of local processes with their owner (run_id, owner_host, owner_boot,
        owner_pid, owner_started): a master's runs are not among them (it resumes those)."""
        names = ("run_id", "owner_host", "owner_boot", "owner_pid", "owner_started")
        return [dict(zip(names, r, strict=True)) for r in self._b.query_all(self._b.sql(_LOCAL_UNFINISHED))]

    # ---- reads ----------------------------------------------------------------------

    def list_runs(
        self, workflow: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """The most recent runs first."""
        from sloth_engine.store.models import Run  # lazy: peewee (~50 ms) on the first model read

        query = Run.select().order_by(Run.started_at.desc(), Run.run_id).limit(int(limit))
        if workflow:
            query = query.where(Run.workflow == workflow)
        if status:
            query = query.where(Run.status == status)
        return [_run(r) for r in self._b.rows_of(query)]

    def get_run(self, run_id: str, with_tasks: bool = True) -> dict[str, Any] | None:
        """The run, with "tasks": its attempts in the order they were first recorded."""
        from sloth_engine.store.models import Run, TaskRun  # lazy: peewee (~50 ms) on the first model read

        found = self._b.rows_of(Run.select().where(Run.run_id == run_id))
        if not found:
            return None
        run = _run(found[0])
        if with_tasks:
            query = TaskRun.select().where(TaskRun.run_id == run_id).order_by(TaskRun.id)
            run["tasks"] = [_attempt(a) for a in self._b.rows_of(query)]
        return run

    def get_logs(
        self, run_id: str, task: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Captured lines: of one task by attempt and sequence, else of the run by time
        (`offset` and `limit` page them)."""
        from sloth_engine.store.models import RunLogLine as L  # lazy: peewee (~50 ms) on the first model read

        query = L.select(L.task, L.attempt, L.stream, L.seq, L.ts, L.line).where(L.run_id == run_id)
        if task is not None:
            query = query.where(L.task == task).order_by(L.attempt, L.seq, L.id)
        else:
            query = query.order_by(L.ts, L.id)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        return self._b.rows_of(query)

    def attempts_page(self, run_id: str, after_id: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """(row id, attempt) of the run's attempts recorded after row `after_id`, in order."""
        from sloth_engine.store.models import TaskRun  # lazy: peewee (~50 ms) on the first model read

        query = (
            TaskRun.select()
            .where((TaskRun.run_id == run_id) & (TaskRun.id > after_id))
            .order_by(TaskRun.id)
            .limit(limit)
        )
        return [(int(a["id"]), _attempt(a)) for a in self._b.rows_of(query)]

    def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs without a finish time (a master restarting resumes them), oldest first."""
        from sloth_engine.store.models import Run  # lazy: peewee (~50 ms) on the first model read

        query = Run.select().where(Run.finished_at.is_null()).order_by(Run.started_at)
        return [_run(r) for r in self._b.rows_of(query)]

    def stack_runs(self, stack: str, limit: int = 20) -> list[dict[str, Any]]:
        """The stack's runs, newest first (without params and tasks)."""
        rows = self._b.query_all(self._b.sql(_STACK_RUNS), (stack, int(limit)))
        return [dict(zip(_STACK_RUN_FIELDS, row, strict=True)) for row in rows]

    def last_task_outputs(self, stack: str, workflow: str) -> dict[str, dict[str, Any]]:
        """Each task's outputs from its latest successful attempt in runs of the stack's workflow."""
        found: dict[str, dict[str, Any]] = {}
        for task, outputs in self._b.query_all(self._b.sql(_LAST_OUTPUTS), (stack, workflow)):
            found[task] = json.loads(outputs) if outputs else {}
        return found


_STACK_RUN_FIELDS = (
    "run_id",
    "workflow",
    "file",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "error",
)
_STACK_RUNS = (
    f"SELECT {', '.join(_STACK_RUN_FIELDS)} FROM runs WHERE stack = ? ORDER BY started_at DESC LIMIT ?"
)
_LAST_OUTPUTS = (
    "SELECT t.task, t.outputs FROM task_runs t JOIN runs r ON r.run_id = t.run_id "
    "WHERE r.stack = ? AND r.workflow = ? AND t.status IN ('success', 'unchanged') "
    "ORDER BY t.finished_at"
)


def _attempt_rows(rows: Sequence[AttemptRow]) -> list[tuple[Any, ...]]:
    merged: dict[tuple[Any, Any, Any], AttemptRow] = {}
    for row in rows:
        key = (row["run_id"], row["task"], row["attempt"])
        earlier = merged.get(key)
        if earlier is None:
            merged[key] = row
        else:
            merged[key] = {**earlier, **{k: v for k, v in row.items() if v is not None}}
    out = []
    for r in merged.values():
        outputs = r.get("outputs")
        out.append(
            (
                r["run_id"],
                r["task"],
                r["attempt"],
                r.get("status"),
                r.get("started_at"),
                r.get("finished_at"),
                r.get("duration_s"),
                r.get("agent"),
                r.get("message"),
                r.get("error"),
                to_json(outputs) if outputs is not None else None,
                r.get("exit_code"),
            )
        )
    return out


def _owner_values(owner: Any) -> tuple[Any, Any, Any, Any]:
    if owner is None:
        return (None, None, None, None)
    return (owner.host, owner.boot, owner.pid, owner.started)


def _run(row: dict[str, Any]) -> dict[str, Any]:
    row["params"] = json.loads(row["params"]) if row.get("params") else {}
    return row


def _attempt(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("id", None)
    row["outputs"] = json.loads(row["outputs"]) if row.get("outputs") else None
    return row
