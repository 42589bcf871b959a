"""Run history and events on both backends: what the executor writes, what the CLI reads."""

from __future__ import annotations

from typing import Any

import pytest

from sloth_engine.errors import RunTransitionRefused, StoreError
from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RunStatus


def _attempt(task: str, attempt: int = 1, **fields: Any) -> dict[str, Any]:
    return {"run_id": "r1", "task": task, "attempt": attempt, **fields}


@pytest.fixture
def run(store: Any) -> Any:
    store.runs.create_run("r1", "deploy", "deploy.sloth", "prod", {"env": "prod", "n": 2}, 100.0)
    return store.runs


def test_create_and_finish_a_run(store: Any, run: Any) -> None:
    got = run.get_run("r1")
    assert got["status"] == "running" and got["finished_at"] is None
    assert got["params"] == {"env": "prod", "n": 2} and got["stack"] == "prod"
    assert [r["run_id"] for r in run.unfinished_runs()] == ["r1"]
    run.end_run("r1", RunStatus.FAILED, 110.0, 10.0, "task b failed", {"type": "workflow.failed"})
    got = run.get_run("r1")
    assert (got["status"], got["finished_at"], got["duration_s"], got["error"]) == (
        "failed",
        110.0,
        10.0,
        "task b failed",
    )
    assert run.unfinished_runs() == []


def test_run_ids_are_unique_and_finishing_needs_a_run(run: Any) -> None:
    with pytest.raises(StoreError, match="r1 exists"):
        run.create_run("r1", "deploy", "deploy.sloth", None, {}, 1.0)
    with pytest.raises(RunTransitionRefused, match="no run nope"):
        run.end_run("nope", RunStatus.SUCCESS, 1.0, 1.0, None, {"type": "workflow.completed"})
    assert run.get_run("nope") is None


def test_attempts_upsert_and_merge(run: Any) -> None:
    run.save_attempts([_attempt("a", status="running", started_at=100.0, agent="local")])
    run.write_batch(
        [
            _attempt("a", status="succeeded", finished_at=101.0, duration_s=1.0, outputs={"v": [1, 2]}),
            _attempt("b", status="running", started_at=101.0),
            _attempt("b", status="failed", finished_at=102.0, error="boom", exit_code=2),
            _attempt("b", 2, status="running", started_at=103.0),
        ],
        [],
        [],
    )
    tasks = run.get_run("r1")["tasks"]
    assert [(t["task"], t["attempt"], t["status"]) for t in tasks] == [
        ("a", 1, "succeeded"),
        ("b", 1, "failed"),
        ("b", 2, "running"),
    ]
    a, b1, _ = tasks
    assert (a["started_at"], a["agent"], a["outputs"], a["duration_s"]) == (
        100.0,
        "local",
        {"v": [1, 2]},
        1.0,
    )
    assert (b1["started_at"], b1["error"], b1["exit_code"], b1["outputs"]) == (101.0, "boom", 2, None)


def test_logs_by_task_and_by_time(run: Any) -> None:
    run.append_logs(
        [
            ("r1", "a", 1, "stdout", 1, 10.0, "a one"),
            ("r1", "b", 1, "stdout", 2, 10.5, "b one"),
            ("r1", "a", 1, "stderr", 3, 11.0, "a two"),
            ("r1", "a", 2, "stdout", 1, 12.0, "a retry"),
        ]
    )
    assert [line["line"] for line in run.get_logs("r1")] == ["a one", "b one", "a two", "a retry"]
    only_a = run.get_logs("r1", "a")
    assert [(line["attempt"], line["stream"], line["line"]) for line in only_a] == [
        (1, "stdout", "a one"),
        (1, "stderr", "a two"),
        (2, "stdout", "a retry"),
    ]
    assert run.get_logs("r1", "zzz") == []


def test_write_batch_is_one_transaction(store: Any, run: Any) -> None:
    bad_log = ("no-such-run", "a", 1, "stdout", 1, 1.0, "orphan")  # breaks the foreign key
    with pytest.raises(StoreError):
        run.write_batch([_attempt("a", status="running")], [bad_log], [{"type": "task.started"}])
    assert run.get_run("r1")["tasks"] == []
    assert store.events.list() == []


def test_list_runs_filters_newest_first(store: Any) -> None:
    for i, (workflow, status) in enumerate([("a", "success"), ("b", "failed"), ("a", "failed")]):
        store.runs.create_run(f"r{i}", workflow, "f.sloth", None, {}, 100.0 + i)
        RunTransition(f"r{i}", workflow, store, exists=True).finish(
            RunStatus(status), 1.0, None, at=200.0 + i
        )
    assert [r["run_id"] for r in store.runs.list_runs()] == ["r2", "r1", "r0"]
    assert [r["run_id"] for r in store.runs.list_runs(workflow="a")] == ["r2", "r0"]
    assert [r["run_id"] for r in store.runs.list_runs(status="failed", limit=1)] == ["r2"]


def test_events(store: Any, run: Any) -> None:
    first = store.events.append("lock.acquired", {"name": "deploy"}, source="cli")
    run.write_batch(
        [],
        [],
        [
            {"type": "task.started", "data": {"task": "a"}, "run_id": "r1", "stack": "prod", "ts": 5.0},
            {"type": "task.failed", "data": {"task": "a"}, "severity": "error", "run_id": "r1", "ts": 6.0},
        ],
    )
    events = store.events.list()
    assert [e.type for e in events] == ["lock.acquired", "task.started", "task.failed"]
    assert events[0].id == first and events[0].data == {"name": "deploy"}
    assert events[0].source == "cli" and events[2].severity == "error"
    assert [e.type for e in store.events.list(type_prefix="task.")] == ["task.started", "task.failed"]
    assert [e.type for e in store.events.list(stack="prod")] == ["task.started"]
    # since: events after a timestamp, oldest first (lock.acquired was stamped now)
    assert [e.type for e in store.events.list(since=5.5)] == ["lock.acquired", "task.failed"]
    assert [e.type for e in store.events.list(limit=2)] == ["task.started", "task.failed"]


def test_many_rows_in_one_batch(run: Any) -> None:
    attempts = [_attempt(f"t{i}", status="succeeded", duration_s=0.001) for i in range(2500)]
    logs = [("r1", f"t{i}", 1, "stdout", i, float(i), f"line {i}") for i in range(2500)]
    run.write_batch(attempts, logs, [{"type": "task.completed", "data": {"i": i}} for i in range(2500)])
    assert len(run.get_run("r1")["tasks"]) == 2500
    assert len(run.get_logs("r1")) == 2500
