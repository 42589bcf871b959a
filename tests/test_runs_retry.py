"""`runs retry RUN_ID --failed-only`, here and through a real master: only the failed and
skipped tasks run again, the tasks that succeeded do not (each appends a line to a file when
it runs) and their recorded outputs reach the tasks that run again; a workflow file changed
since the run is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from distributed_cluster import Cluster

FLOW = """
local a = task("a"):command("echo a >> {root}/a.log; echo token-$(date +%s%N)")
local b = task("b"):depends_on({{ a }}):command(function(this, params, input)
    if not exec.run("test -f {root}/flag").success then return false, "no flag yet" end
    local token = strings.trim_space(input.a.stdout)
    exec.run("echo " .. token .. " >> {root}/b.log")
    return true, "got " .. token, {{ seen = token }}
end)
local c = task("c"):depends_on({{ b }}):command("echo c >> {root}/c.log")
local d = task("d"):command("echo d >> {root}/d.log")
workflow.define("retried"):tasks({{ a, b, c, d }})
"""


def lines(root: Path, name: str) -> list[str]:
    path = root / name
    return path.read_text().split() if path.exists() else []


def tasks_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in report["tasks"]}


def first_run_fails(cluster: Cluster, *master: str) -> tuple[Path, dict[str, Any]]:
    root = cluster.root
    path = cluster.write("retried.sloth", FLOW.format(root=root))
    done = cluster.cli("run", str(path), *master, "-o", "json")
    assert done.returncode == 1, done.stderr + cluster.logs()
    report = json.loads(done.stdout)
    statuses = {name: t["status"] for name, t in tasks_of(report).items()}
    assert statuses == {"a": "success", "b": "failed", "c": "skipped", "d": "success"}, done.stderr
    assert (lines(root, "a.log"), lines(root, "d.log"), lines(root, "b.log")) == (["a"], ["d"], [])
    return path, report


def retry_runs_only_what_failed(cluster: Cluster, first: dict[str, Any], *master: str) -> dict[str, Any]:
    root = cluster.root
    (root / "flag").touch()
    done = cluster.cli("runs", "retry", first["run_id"], "--failed-only", *master, "-o", "json")
    assert done.returncode == 0, done.stderr + cluster.logs()
    retried = json.loads(done.stdout)
    assert retried["run_id"] != first["run_id"] and retried["status"] == "success"
    tasks = tasks_of(retried)
    assert {n: t["status"] for n, t in tasks.items()} == dict.fromkeys("abcd", "success")
    # a and d did not run again: one line each; b and c ran once
    assert (lines(root, "a.log"), lines(root, "d.log"), lines(root, "c.log")) == (["a"], ["d"], ["c"])
    token = tasks_of(first)["a"]["outputs"]["stdout"]
    assert lines(root, "b.log") == [token]  # b read a's output of the first run
    assert tasks["b"]["outputs"] == {"seen": token}
    assert tasks["a"]["message"] == f"reused from run {first['run_id']}"
    assert tasks["a"]["outputs"]["stdout"] == token
    assert f"retried as run {retried['run_id']}" in done.stderr
    return retried


def test_retry_failed_only_here_reuses_outputs_and_refuses_a_changed_file(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    path, first = first_run_fails(cluster)
    retried = retry_runs_only_what_failed(cluster, first)
    nothing = cluster.cli("runs", "retry", retried["run_id"], "--failed-only")
    assert nothing.returncode == 2 and "every task succeeded, nothing to retry" in nothing.stderr
    path.write_text(path.read_text() + "-- edited\n")
    changed = cluster.cli("runs", "retry", first["run_id"], "--failed-only")
    assert changed.returncode == 2, changed.stderr
    assert f"{path} changed since run {first['run_id']}" in changed.stderr
    assert lines(tmp_path, "c.log") == ["c"]  # nothing ran
    missing = cluster.cli("runs", "retry", "no-such-run", "--failed-only")
    assert missing.returncode == 1 and "no run 'no-such-run'" in missing.stderr


def test_retry_without_failed_only_runs_every_task_again(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    _path, first = first_run_fails(cluster)
    (tmp_path / "flag").touch()
    done = cluster.cli("runs", "retry", first["run_id"], "-o", "json")
    assert done.returncode == 0, done.stderr
    assert (lines(tmp_path, "a.log"), lines(tmp_path, "d.log")) == (["a", "a"], ["d", "d"])


@pytest.fixture
def master(tmp_path: Path) -> Any:
    cluster = Cluster(tmp_path)
    try:
        cluster.start_master()
        yield cluster
    finally:
        cluster.close()


def test_retry_failed_only_through_a_master(master: Cluster) -> None:
    at = ("--master", master.address)
    _path, first = first_run_fails(master, *at)
    retry_runs_only_what_failed(master, first, *at)
    running = master.cli("runs", "retry", "no-such-run", "--failed-only", *at)
    assert running.returncode != 0 and "no-such-run" in running.stderr
