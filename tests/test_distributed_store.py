"""The master's tables on both backends (SQLite and the real PostgreSQL server): agent rows
upserted by name, run submissions kept for resuming, and a master serving on each store."""

from __future__ import annotations

import time
from pathlib import Path

from distributed_cluster import Cluster, wait_for

from sloth_daemon.master.registry import AgentSession, AgentStatus, row_of
from sloth_engine.store.agents import AgentRows
from sloth_engine.store.submissions import Submission, SubmissionRows


def test_agent_rows_are_upserted_by_name_with_their_events(store) -> None:
    rows = AgentRows(store)
    session = AgentSession("a1", AgentStatus.CONNECTED, tags={"role": "x"}, registered_at=time.time())
    event = {"type": "agent.registered", "ts": time.time(), "source": "master", "data": {"agent": "a1"}}
    rows.save([row_of(session)], [event])
    session.status, session.tags, session.facts = AgentStatus.LOST, {"role": "y"}, {"hostname": "h"}
    rows.save([row_of(session)], [{**event, "type": "agent.disconnected"}])
    loaded = rows.load()
    assert len(loaded) == 1
    assert (
        loaded[0].status is AgentStatus.LOST
        and loaded[0].tags == {"role": "y"}
        and loaded[0].facts == {"hostname": "h"}
    )
    assert [e.type for e in store.events.list("agent.")] == ["agent.registered", "agent.disconnected"]


def test_submissions_keep_what_a_resume_needs(store) -> None:
    subs = SubmissionRows(store)
    sub = Submission("w.sloth", "-- source", "w", {"v": [1, 2]}, {"p": "1"}, 3, "prod", "agent-1")
    subs.save("run-1", "w", sub)
    assert subs.get("run-1") == sub
    assert subs.get("run-2") is None


def test_a_master_serves_on_this_store(store_url: str, tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    cluster.db = store_url
    try:
        cluster.start_master()
        cluster.start_agent("solo")
        path = cluster.write(
            "two.sloth",
            'local a = task("a"):command(function() return true, "a", { n = 1 } end):delegate_to("solo")\n'
            'local b = task("b"):depends_on({ "a" }):command(function(t, p, i) return true, "b" .. i.a.n end)\n'
            'workflow.define("two"):tasks({ a, b })\n',
        )
        with cluster.client() as client:
            plan = client.submit_run(str(path), path.read_text())
            result = list(client.follow_run(plan[0].run_id))[-1]
        assert result.status.value == "success", cluster.logs()
        assert [(t.agent, t.message) for t in result.tasks] == [("solo", "a"), ("master", "b1")]
        with cluster.store() as store:
            wait_for(lambda: [r.name for r in AgentRows(store).load()] == ["solo"], what="the agent's row")
            assert store.runs.get_run(plan[0].run_id)["status"] == "success"
    finally:
        cluster.close()
