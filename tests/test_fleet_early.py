"""Fail early, never retry the impossible (issue 13 item 7): a local run with delegated tasks
and no master, plan/validate warnings about agents no connected agent matches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_cluster import Cluster

DELEGATED = """
local a = task("build"):command("echo built > built.txt")
local b = task("deploy"):delegate_to("web-1"):command("true"):depends_on({ "build" })
local c = task("smoke"):delegate_to({ tags = { role = "db" } }):command("true")
workflow.define("ship"):tasks({ a, b, c })
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def test_a_local_run_with_delegated_tasks_and_no_master_fails_before_any_task(cluster: Cluster) -> None:
    path = cluster.write("ship.sloth", DELEGATED)
    done = cluster.cli("run", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ship.deploy (agent web-1)" in done.stderr and "ship.smoke (agents with role=db)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (cluster.root / "built.txt").exists()  # not even the local task ran
    with cluster.store() as store:
        assert store.runs.list_runs(None, None, 10) == []

    fallback = cluster.write(
        "fallback.sloth",
        DELEGATED.replace("tasks({ a, b, c })", "tasks({ a, b, c }):config({ fallback_local = true })"),
    )
    assert cluster.cli("run", str(fallback)).returncode == 0
    assert (cluster.root / "built.txt").exists()


def test_plan_and_validate_warn_about_placements_no_connected_agent_matches(cluster: Cluster) -> None:
    path = cluster.write("ship.sloth", DELEGATED)
    alone = cluster.cli("run", str(path), "--plan")
    assert (
        alone.returncode == 0
        and "ship.deploy is delegated to agent web-1: a run needs a master" in alone.stderr
    )

    cluster.start_master()
    cluster.start_agent("web-1", tags="role=web")
    for args in (("run", str(path), "--plan"), ("workflow", "validate", str(path))):
        done = cluster.cli(*args, "--master", cluster.address)
        assert done.returncode == 0, done.stderr
        assert "ship.smoke is delegated to agents with role=db, but no connected agent matches" in done.stderr
        assert "(connected: web-1)" in done.stderr
        assert "ship.deploy" not in done.stderr  # web-1 is connected


def test_a_configuration_error_is_not_retried_but_an_ordinary_failure_is(cluster: Cluster) -> None:
    path = cluster.write(
        "retry.sloth",
        'local a = task("nostack"):retries(3):command(function() return true, stack.get_outputs() end)\n'
        'local b = task("flaky"):retries(1):command(function() error("boom") end)\n'
        'local c = task("caught"):retries(2):command(function()\n'
        "  pcall(stack.get_outputs)\n"
        '  error("later")\n'
        "end)\n"
        'workflow.define("retry"):tasks({ a, b, c }):config({ retry_delay = "0.01s" })\n',
    )
    done = cluster.cli("run", str(path), "-o", "json")
    assert done.returncode == 1, done.stderr
    import json

    tasks = {t["name"]: t for t in json.loads(done.stdout)["tasks"]}
    assert tasks["nostack"]["attempts"] == 1 and "belongs to no stack" in tasks["nostack"]["error"]
    assert tasks["flaky"]["attempts"] == 2
    assert tasks["caught"]["attempts"] == 3  # the configuration error was caught: retried as usual
