"""No split brain with several masters (`master --ha`): a paused leader that lost its lease does
not dispatch and its writes are refused by the database; a schedule goes on across a failover."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_cluster import wait_for
from ha_cluster import HaCluster, ha_cluster
from test_ha_failover import CHAIN

from sloth_engine.spec import RunStatus

pytestmark = pytest.mark.postgres


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[HaCluster]:
    with ha_cluster(tmp_path) as c:
        yield c


def _new_leader(ha: HaCluster, old: str) -> str:
    others = [a for a in ha.masters if a != old]

    def check() -> str | None:
        leader = ha.status_from(others[0])["leader"]
        return leader["address"] if leader and leader["address"] != old else None

    return wait_for(check, timeout=20, what="a new leader")


def test_paused_leader_does_not_dispatch_and_its_writes_are_refused(ha: HaCluster) -> None:
    from sloth_engine.errors import StoreError

    masters = ha.start_masters()
    for name in ("a1", "a2"):
        ha.start_agent(name, "pool=p")
    path = ha.write("chain.sloth", CHAIN)
    steps = ha.root / "steps.log"
    done = ha.cli("run", str(path), "--master", masters, "--detach", "-p", f"dir={ha.root}")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    wait_for(lambda: steps.exists() and "t3" in steps.read_text(), what="t3 to start")
    old = ha.leader()
    ha.masters[old].send_signal(signal.SIGSTOP)
    new = _new_leader(ha, old)
    # Agents leave the paused master (keepalive) for the new leader, which adopts t3.
    wait_for(lambda: "a1" in _agents_on(ha, new) and "a2" in _agents_on(ha, new), timeout=20, what="agents")
    ha.masters[old].send_signal(signal.SIGCONT)  # it wakes up past its lease, with t3 in flight
    wait_for(
        lambda: "stepping down" in (ha.root / "master.log").read_text(), what="the old leader to step down"
    )
    (ha.root / "gate").write_text("open")
    from sloth_daemon.client import MasterClient

    with MasterClient(new) as client:
        result = list(client.follow_run(run_id, reconnect_for=30.0))[-1]
    assert result.status.value == "success", ha.logs()
    assert sorted(steps.read_text().split()) == ["t1", "t2", "t3", "t4", "t5"]  # nothing twice
    log = (ha.root / "master.log").read_text()
    assert "deposed (epoch 1)" in log
    # The old leader came back as a standby (same command line) and names the new leader.
    wait_for(lambda: (ha.root / "master.log").read_text().count("master listening") == 4, what="restart")
    status = wait_for(lambda: len((s := ha.status_from(new))["standbys"]) >= 2 and s, what="standbys")
    assert status["epoch"] == 2 and status["leader"]["address"] == new
    with ha.store() as store:
        assert store.runs.get_run(run_id, with_tasks=False)["status"] == "success"
        store.backend.set_session("sloth.epoch", "1")  # a write as the deposed leader
        with pytest.raises(StoreError, match="stale leader"):
            store.runs.end_run(
                run_id, RunStatus.FAILED, time.time(), 0.0, "stale", {"type": "workflow.failed"}
            )
        store.backend.set_session("sloth.epoch", "2")  # the current leader's epoch passes
        store.backend.query_all("SELECT 1")


def _agents_on(ha: HaCluster, address: str) -> set[str]:
    from sloth_daemon.client import MasterClient

    try:
        with MasterClient(address, timeout=3.0) as client:
            return {a["name"] for a in client.list_agents() if a["status"] == "connected"}
    except Exception:
        return set()


QUICK = 'local t = task("t"):command(function() return true end)\nworkflow.define("tick"):tasks({ t })\n'


def test_schedule_every_second_across_a_failover(ha: HaCluster) -> None:
    masters = ha.start_masters()
    quick = ha.write("tick.sloth", QUICK)
    added = ha.cli("scheduler", "add", "tick", "--cron", "*/1 * * * * *", "--file", str(quick))
    assert added.returncode == 0, added.stderr

    def fires() -> list[dict]:
        with ha.store() as store:
            events = store.events.list("schedule.triggered", None, None, 1000)
        return [e.data for e in events if e.data["schedule"] == "tick"]

    wait_for(lambda: len(fires()) >= 3, what="three fires")
    old = ha.leader()
    ha.kill(ha.masters[old], signal.SIGKILL)
    killed_at = time.time()
    _new_leader(ha, old)
    wait_for(
        lambda: len([f for f in fires() if f["fired_at"] > killed_at]) >= 3, timeout=20, what="fires after"
    )
    times = [round(f["scheduled_at"], 3) for f in fires() if not f.get("catch_up")]
    assert len(times) == len(set(times)), f"a fire time fired twice: {sorted(times)}"
    del masters
