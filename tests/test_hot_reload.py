"""`master --watch DIR` on a real master: the folder's workflows are known (`workflow list
--master`), an edit is reloaded within a second while a run in flight keeps its version, a
broken edit is reported with its line and the last good version goes on running."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from distributed_cluster import Cluster, wait_for

VERSION = """
local t = task("t"):command(function()
  time.sleep(%s)
  log.info("running version %s")
  return true, "v%s"
end)
workflow.define("app"):description("the app"):tasks({ t })
"""


@pytest.fixture
def cluster(tmp_path: Path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def fire(c: Cluster) -> str:
    done = c.cli("scheduler", "run", "app", "--master", c.address)
    assert done.returncode == 0, done.stderr + c.logs()
    return done.stdout.strip()


def finished(c: Cluster, run_id: str) -> dict:
    return wait_for(
        lambda: (r := c.cli_json("runs", "show", run_id, "--json"))["status"] != "running" and r,
        15,
        "the run",
    )


def reload_events(c: Cluster, kind: str) -> list[dict]:
    return c.cli_json("events", "list", "--type", kind, "--json")


def test_edits_are_reloaded_and_a_broken_edit_keeps_the_last_good_version(cluster: Cluster) -> None:
    folder = cluster.root / "workflows"
    folder.mkdir()
    app = folder / "app.sloth"
    app.write_text(VERSION % (0.8, 1, 1))
    (folder / "other.sloth").write_text('workflow.define("other"):tasks({ task("o") })\n')
    cluster.cli("scheduler", "add", "app", "--cron", "0 0 1 1 *", "--file", str(app))
    cluster.start_master("127.0.0.1:0", "--watch", str(folder))
    listed = cluster.cli_json("workflow", "list", "--master", cluster.address, "--json")
    assert [(w["workflow"], w["tasks"], w["error"]) for w in listed] == [("app", 1, None), ("other", 1, None)]

    in_flight = fire(cluster)
    written = time.time()
    app.write_text(VERSION % (0, 2, 2))
    [reloaded] = wait_for(lambda: reload_events(cluster, "workflow.reloaded"), 10, "workflow.reloaded")
    assert reloaded["data"]["file"] == str(app.resolve()) and reloaded["data"]["workflows"] == ["app"]
    assert reloaded["ts"] - written < 1.0
    after = fire(cluster)
    assert finished(cluster, in_flight)["tasks"][0]["message"] == "v1"  # kept the version it started with
    assert finished(cluster, after)["tasks"][0]["message"] == "v2"

    app.write_text(
        'local t = task("t"):command(function() return true end\nworkflow.define("app"):tasks({ t })\n'
    )
    [failed] = wait_for(
        lambda: reload_events(cluster, "workflow.reload_failed"), 10, "workflow.reload_failed"
    )
    assert failed["severity"] == "error" and failed["data"]["file"] == str(app.resolve())
    assert failed["data"]["line"] == 2 and "syntax error" in failed["data"]["error"]
    listed = cluster.cli("workflow", "list", "--master", cluster.address)
    assert "last change rejected: line 2" in listed.stdout
    still = fire(cluster)
    assert finished(cluster, still)["tasks"][0]["message"] == "v2"
    logs = cluster.cli("runs", "logs", still, "--master", cluster.address).stdout
    assert "running version 2" in logs

    (folder / "other.sloth").unlink()
    wait_for(lambda: reload_events(cluster, "workflow.removed"), 10, "workflow.removed")
    names = [
        w["workflow"] for w in cluster.cli_json("workflow", "list", "--master", cluster.address, "--json")
    ]
    assert names == ["app"]


def test_workflow_list_needs_a_watching_master(cluster: Cluster) -> None:
    cluster.start_master()
    done = cluster.cli("workflow", "list", "--master", cluster.address)
    assert done.returncode == 2 and "--watch DIR" in done.stderr
