"""A run of 100,000 tasks can be shown and its output read, locally and through a master
(GetRun and GetRunLogs answer in pages). The run is built directly in the store: executing
100,000 tasks would prove nothing more here."""

from __future__ import annotations

import time

import pytest
from distributed_cluster import Cluster

from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RunStatus

TASKS = 100_000
RUN_ID = "20261204-120000-big00001"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = Cluster(tmp_path_factory.mktemp("big"))
    try:
        with c.store() as store:
            _big_run(store)
        yield c
    finally:
        c.close()


def _big_run(store) -> None:
    now = time.time()
    store.runs.create_run(RUN_ID, "big", "big.sloth", None, {}, now)
    attempts = [
        {
            "run_id": RUN_ID,
            "task": f"task-{i:06d}",
            "attempt": 1,
            "status": "success",
            "started_at": now,
            "finished_at": now + 0.01,
            "duration_s": 0.01,
            "message": f"done {i}",
            "outputs": {"n": i, "note": "x" * 20},
        }
        for i in range(TASKS)
    ]
    logs = [
        (RUN_ID, f"task-{i:06d}", 1, "stdout", 1, now + i * 1e-6, f"line of task {i:06d}")
        for i in range(TASKS)
    ]
    store.runs.write_batch(attempts, logs, ())
    RunTransition(RUN_ID, "big", store, exists=True).finish(RunStatus.SUCCESS, 5.0, None, at=now + 5)


@pytest.mark.parametrize("where", ["local", "master"])
def test_a_100k_task_run_is_shown_whole(cluster: Cluster, where: str) -> None:
    if where == "master" and not cluster.address:
        cluster.start_master()
    extra = ["--master", cluster.address] if where == "master" else []
    run = cluster.cli_json("runs", "show", RUN_ID, "--json", *extra)
    assert run["status"] == "success" and len(run["tasks"]) == TASKS
    assert [t["task"] for t in run["tasks"][:2]] == ["task-000000", "task-000001"]
    assert run["tasks"][-1]["outputs"] == {"n": TASKS - 1, "note": "x" * 20}
    assert len({t["task"] for t in run["tasks"]}) == TASKS  # no page twice, none missing
    table = cluster.cli("runs", "show", RUN_ID, *extra)
    assert table.returncode == 0, table.stderr
    assert "task-099999" in table.stdout


@pytest.mark.parametrize("where", ["local", "master"])
def test_a_100k_task_run_has_all_its_output(cluster: Cluster, where: str) -> None:
    if where == "master" and not cluster.address:
        cluster.start_master()
    extra = ["--master", cluster.address] if where == "master" else []
    done = cluster.cli("runs", "logs", RUN_ID, *extra)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == TASKS
    assert lines[0] == "[task-000000#1] line of task 000000"
    assert lines[-1] == "[task-099999#1] line of task 099999"
    one = cluster.cli("runs", "logs", RUN_ID, "task-054321", *extra)
    assert one.stdout.splitlines() == ["line of task 054321"]
