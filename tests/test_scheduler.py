"""The scheduler through the CLI and real masters: cron maths, schedule commands, a schedule
every second fired on time with overlap skip respected, a missed fire caught up after a master
restart, and firing a schedule by hand."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from distributed_cluster import Cluster, wait_for

QUICK = """
local t = task("t"):command(function() return true, "quick" end)
workflow.define("quick"):tasks({ t })
"""

SLOW = """
local t = task("t"):command("sleep 2.2")
workflow.define("slow"):tasks({ t })
"""


@pytest.fixture
def cluster(tmp_path: Path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def events(c: Cluster, kind: str) -> list[dict]:
    return c.cli_json("events", "list", "--type", kind, "--limit", "500", "--json")


def test_cron_maths() -> None:
    from sloth_engine.errors import UsageError
    from sloth_engine.scheduler.cron import CronSpec

    base = datetime(2024, 3, 1, 12, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert CronSpec("*/5 * * * *").next_after(base) == base + 300
    assert CronSpec("*/10 * * * * *").next_after(base + 1) == base + 10  # seconds first
    paris = CronSpec("0 9 * * *", "Europe/Paris").next_after(base)
    assert datetime.fromtimestamp(paris, ZoneInfo("Europe/Paris")).hour == 9
    assert datetime.fromtimestamp(paris, ZoneInfo("UTC")).hour == 8
    assert CronSpec("*/1 * * * * *").fires_between(base, base + 3) == [base + 1, base + 2, base + 3]
    for bad, why in [("* * *", "5 fields"), ("61 * * * *", "not a valid"), ("@sometimes", "5 fields")]:
        with pytest.raises(UsageError, match=why):
            CronSpec(bad)
    with pytest.raises(UsageError, match="unknown time zone"):
        CronSpec("* * * * *", "Mars/Olympus")


def test_schedule_commands(cluster: Cluster) -> None:
    wf = cluster.write("quick.sloth", QUICK)
    added = cluster.cli(
        "scheduler", "add", "nightly", "--cron", "0 2 * * *", "--file", str(wf), "--tz", "Europe/Paris"
    )
    assert added.returncode == 0, added.stderr
    [row] = cluster.cli_json("scheduler", "list", "--json")
    assert row["tz"] == "Europe/Paris" and row["overlap"] == "skip" and row["catch_up"] == "none"
    assert datetime.fromtimestamp(row["next_fire_at"], ZoneInfo("Europe/Paris")).hour == 2
    assert "nightly" in cluster.cli("scheduler", "list").stdout
    bad = cluster.cli("scheduler", "add", "x", "--cron", "nope", "--file", str(wf))
    assert bad.returncode == 2 and "cron 'nope'" in bad.stderr
    missing = cluster.cli(
        "scheduler", "add", "y", "--cron", "* * * * *", "--file", str(wf), "--workflow", "other"
    )
    assert missing.returncode != 0 and "no workflow named 'other'" in missing.stderr
    assert cluster.cli("scheduler", "disable", "nightly").returncode == 0
    assert cluster.cli_json("scheduler", "list", "--json")[0]["enabled"] is False
    assert cluster.cli("scheduler", "enable", "nightly").returncode == 0
    fired = cluster.cli("scheduler", "run", "nightly")  # no master: runs here
    assert fired.returncode == 0 and "SUCCESS" in fired.stderr, fired.stderr
    assert cluster.cli_json("runs", "list", "--json")[0]["workflow"] == "quick"
    assert cluster.cli("scheduler", "delete", "nightly").returncode == 0
    gone = cluster.cli("scheduler", "delete", "nightly")
    assert gone.returncode == 1 and "no schedule named 'nightly'" in gone.stderr


def test_every_second_on_time_with_overlap_skip(cluster: Cluster) -> None:
    slow = cluster.write("slow.sloth", SLOW)
    quick = cluster.write("quick.sloth", QUICK)
    cluster.start_master()  # first: a fire due while the master starts would be late
    cluster.cli(
        "scheduler", "add", "slow", "--cron", "*/1 * * * * *", "--file", str(slow), "--overlap", "skip"
    )
    cluster.cli("scheduler", "add", "tick", "--cron", "*/1 * * * * *", "--file", str(quick))

    def fired(name: str) -> int:
        return len([e for e in events(cluster, "schedule.triggered") if e["data"]["schedule"] == name])

    # Both counts are waited for: under load the slow schedule's two fires may come before
    # the third tick.
    wait_for(lambda: fired("slow") >= 2 and fired("tick") >= 3, 60, "two slow fires, three ticks", every=0.2)
    cluster.cli("scheduler", "disable", "slow")
    cluster.cli("scheduler", "disable", "tick")
    triggered = events(cluster, "schedule.triggered")
    lateness = [e["data"]["fired_at"] - e["data"]["scheduled_at"] for e in triggered]
    assert max(lateness) < 0.5, lateness
    ticks = sorted(e["data"]["scheduled_at"] for e in triggered if e["data"]["schedule"] == "tick")
    assert len(ticks) >= 3 and all(t == int(t) for t in ticks) and len(set(ticks)) == len(ticks)
    skipped = [e for e in events(cluster, "schedule.skipped") if e["data"]["schedule"] == "slow"]
    assert skipped and all(e["data"]["overlap"] == "skip" for e in skipped)
    slow_ids = [r for e in triggered if e["data"]["schedule"] == "slow" for r in e["data"]["run_ids"]]
    store = cluster.store()
    try:
        wait_for(lambda: all(store.runs.get_run(r)["finished_at"] for r in slow_ids), 10, "slow runs to end")
        spans = sorted(
            (store.runs.get_run(r)["started_at"], store.runs.get_run(r)["finished_at"]) for r in slow_ids
        )
    finally:
        store.close()
    assert all(start >= end for (_, end), (start, _) in zip(spans, spans[1:], strict=False)), spans


def test_a_missed_fire_is_caught_up_after_a_master_restart(cluster: Cluster) -> None:
    wf = cluster.write("quick.sloth", QUICK)
    cluster.cli(
        "scheduler", "add", "every", "--cron", "*/1 * * * * *", "--file", str(wf), "--catch-up", "once"
    )
    cluster.cli(
        "scheduler", "add", "lazy", "--cron", "*/1 * * * * *", "--file", str(wf), "--catch-up", "none"
    )
    cluster.start_master()
    wait_for(lambda: events(cluster, "schedule.triggered"), 60, "a first fire")
    assert cluster.master_proc is not None
    cluster.kill(cluster.master_proc, signal.SIGKILL)
    down_at = time.time()
    wait_for(lambda: time.time() > down_at + 2.5, 5, "fires to be missed", every=0.1)

    # Only what the restart reports counts: on a loaded machine the first master may itself
    # start more than a second after `scheduler add` and report (and catch up) fires missed
    # before it ran, which is right but not what this test looks at.
    def since_restart(kind: str) -> list[dict]:
        return [e for e in events(cluster, kind) if e["ts"] > down_at]

    cluster.start_master()
    wait_for(lambda: len(since_restart("schedule.missed")) == 2, 60, "the missed fires to be reported")
    missed = {e["data"]["schedule"]: e["data"] for e in since_restart("schedule.missed")}
    assert missed["every"]["missed"] >= 2 and missed["lazy"]["missed"] >= 2
    caught = wait_for(
        lambda: [e for e in since_restart("schedule.triggered") if e["data"].get("catch_up")],
        60,
        "the catch-up run",
    )
    assert [e["data"]["schedule"] for e in caught] == ["every"]
    run = cluster.cli_json("runs", "show", caught[0]["data"]["run_ids"][0], "--json")
    assert run["workflow"] == "quick"


def test_fire_a_schedule_now_on_the_master(cluster: Cluster) -> None:
    wf = cluster.write("quick.sloth", QUICK)
    cluster.cli("scheduler", "add", "yearly", "--cron", "0 0 1 1 *", "--file", str(wf))
    cluster.start_master()
    done = cluster.cli("scheduler", "run", "yearly", "--master", cluster.address)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    status = wait_for(
        lambda: cluster.cli_json("runs", "show", run_id, "--json")["status"] != "running", 10, "the run"
    )
    assert status
    assert cluster.cli_json("scheduler", "list", "--json")[0]["last_run_id"] == run_id
    unknown = cluster.cli("scheduler", "run", "nope", "--master", cluster.address)
    assert unknown.returncode == 1 and "no schedule named 'nope'" in unknown.stderr
    assert json.loads(cluster.cli("events", "list", "--type", "schedule.triggered", "--json").stdout)[0][
        "data"
    ]["manual"]
