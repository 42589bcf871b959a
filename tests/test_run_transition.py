"""The one checked run transition (sloth_engine.run_transition) on both backends: each change
is checked, saved with its event in one transaction, then announced; illegal ones are refused
and change nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sloth_engine import run_transition
from sloth_engine.errors import RunTransitionRefused, StoreError
from sloth_engine.executor.journal import Journal
from sloth_engine.run import RunRequest, WorkflowRun, load
from sloth_engine.run_owner import Owner
from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RUN_TRANSITIONS, RunStatus, run_can_move


def _events(store: Any, run_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.type, e.severity, e.data) for e in store.events.list(limit=100) if e.run_id == run_id]


def test_the_table_allows_one_start_and_one_end() -> None:
    assert run_can_move(None, RunStatus.RUNNING)
    assert not run_can_move(None, RunStatus.SUCCESS)  # no run yet: nothing to end
    ends = [s for s in RunStatus if s is not RunStatus.RUNNING]
    assert all(run_can_move(RunStatus.RUNNING, s) for s in ends)
    assert not run_can_move(RunStatus.RUNNING, RunStatus.RUNNING)
    for ended in ends:
        assert ended.finished and not any(run_can_move(ended, s) for s in RunStatus)
    assert set(RUN_TRANSITIONS) == {None, RunStatus.RUNNING}


def test_finish_saves_the_end_with_its_event_and_refuses_a_second_end(store: Any) -> None:
    run = RunTransition("r1", "deploy", store, "prod")
    run.create("deploy.sloth", {"env": "prod"}, at=100.0)
    with pytest.raises(StoreError, match="exists already"):
        RunTransition("r1", "deploy", store).create("deploy.sloth", {})
    with pytest.raises(RunTransitionRefused, match="started already"):
        run.create("deploy.sloth", {})
    run.finish(RunStatus.SUCCESS, 4.5, None, at=104.5)
    got = store.runs.get_run("r1", with_tasks=False)
    assert (got["status"], got["finished_at"], got["duration_s"]) == ("success", 104.5, 4.5)
    assert _events(store, "r1") == [
        (
            "workflow.completed",
            "info",
            {"duration_s": 4.5, "error": "", "status": "success", "workflow": "deploy"},
        )
    ]
    with pytest.raises(RunTransitionRefused, match=r"already finished \(success\)"):
        run.finish(RunStatus.FAILED, 1.0, "again")
    # Another process that believes the run still runs is refused by the store itself.
    other = RunTransition("r1", "deploy", store, exists=True)
    with pytest.raises(RunTransitionRefused, match=r"already finished \(success\)") as refused:
        other.finish(RunStatus.CANCELLED, 1.0, "late")
    assert (refused.value.current, refused.value.wanted) == (RunStatus.SUCCESS, RunStatus.CANCELLED)
    got = store.runs.get_run("r1", with_tasks=False)
    assert (got["status"], got["error"]) == ("success", None)
    assert len(_events(store, "r1")) == 1
    with pytest.raises(RunTransitionRefused, match="no run nope"):
        RunTransition("nope", "deploy", store, exists=True).finish(RunStatus.SUCCESS, 1.0, None)


def test_a_run_that_ended_cannot_start_again(store: Any) -> None:
    run = RunTransition("r1", "deploy", store)
    run.create("deploy.sloth", {})
    run.finish(RunStatus.FAILED, 1.0, "boom")
    with pytest.raises(RunTransitionRefused, match=r"already finished \(failed\)"):
        run.start(200.0)
    with pytest.raises(RunTransitionRefused, match=r"already finished \(failed\)"):
        run_transition.claim(store, "r1", Owner("host", "boot", 1, 1.0))
    assert store.runs.get_run("r1", with_tasks=False)["owner_pid"] is None
    started = RunTransition("r2", "deploy", store)
    started.create("deploy.sloth", {})
    started.start(1.0)
    with pytest.raises(RunTransitionRefused):
        started.start(2.0)  # announced once


def test_cancel_by_hand_ends_the_attempts_announces_and_is_refused_twice(store: Any) -> None:
    RunTransition("r1", "deploy", store).create("deploy.sloth", {}, at=store.runs.clock() - 10)
    store.runs.save_attempts([{"run_id": "r1", "task": "t", "attempt": 1, "status": "running"}])
    delivered: list[dict[str, Any]] = []
    run_transition.cancel(store, "r1", "stop (forced)", delivered.append)
    got = store.runs.get_run("r1")
    assert (got["status"], got["error"]) == ("cancelled", "stop (forced)")
    assert 9 < got["duration_s"] < 60
    assert [(t["status"], t["error"]) for t in got["tasks"]] == [("cancelled", "stop (forced)")]
    assert [(e["type"], e["run_id"], e["data"]["error"]) for e in delivered] == [
        ("workflow.cancelled", "r1", "stop (forced)")
    ]
    assert [t for t, _, _ in _events(store, "r1")] == ["workflow.cancelled"]
    with pytest.raises(RunTransitionRefused, match=r"already finished \(cancelled\)"):
        run_transition.cancel(store, "r1", "again")
    with pytest.raises(RunTransitionRefused, match="no run nope"):
        run_transition.cancel(store, "nope", "x")


def test_abandon_ends_only_runs_whose_owner_is_gone(store: Any) -> None:
    gone, alive = Owner("h", "b", 101, 1.0), Owner("h", "b", 102, 1.0)
    RunTransition("dead", "w", store).create("w.sloth", {}, gone)
    RunTransition("live", "w", store).create("w.sloth", {}, alive)
    RunTransition("nobody", "w", store).create("w.sloth", {})  # no owner: never abandoned
    ended = run_transition.abandon_gone(store, lambda row: row["owner_pid"] == 101)
    assert ended == ["dead"]
    assert store.runs.get_run("dead", with_tasks=False)["status"] == "abandoned"
    assert {r["run_id"] for r in store.runs.unfinished_runs()} == {"live", "nobody"}
    ((kind, severity, data),) = _events(store, "dead")
    assert (kind, severity, data["status"]) == ("workflow.abandoned", "error", "abandoned")
    assert "pid 101" in data["error"]
    assert run_transition.abandon_gone(store, lambda row: True) == ["live"]  # once each


def test_a_run_starts_and_ends_once_with_its_events(store: Any, tmp_path: Path) -> None:
    flow = tmp_path / "f.sloth"
    flow.write_text('workflow.define("f"):tasks({ task("a"):command("true") })\n')
    seen: list[str] = []
    request = RunRequest(
        path=str(flow), store=store, home=tmp_path, listeners=[lambda e: seen.append(e.kind)]
    )
    loaded = load(request)
    spec = loaded.spec.get("f")
    assert spec is not None
    run = WorkflowRun(request, loaded, spec)
    result = asyncio.run(run.execute())
    assert result.status is RunStatus.SUCCESS
    assert [k for k in seen if k.startswith("workflow.")] == ["workflow.started", "workflow.completed"]
    kinds = [t for t, _, _ in _events(store, run.run_id) if t.startswith("workflow.")]
    assert kinds == ["workflow.started", "workflow.completed"]
    assert store.runs.get_run(run.run_id, with_tasks=False)["status"] == "success"
    with pytest.raises(RunTransitionRefused):
        run.transition.finish(RunStatus.FAILED, 0.0, "again")
    with pytest.raises(RunTransitionRefused):
        run.transition.start(0.0)


def test_without_a_store_the_end_is_still_announced() -> None:
    journal = Journal("r1", "w")
    heard: list[str] = []
    journal.listeners.append(lambda e: heard.append(f"{e.kind} {e.status} {e.data.get('error', '')}"))
    run = RunTransition("r1", "w", None, journal=journal)
    run.create("w.sloth", {})
    run.start(1.0)
    run.finish(RunStatus.CANCELLED, 1.0, "interrupted")
    assert heard == ["workflow.started running ", "workflow.cancelled cancelled interrupted"]
