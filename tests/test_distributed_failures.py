"""Failures a master and its agents survive, each with real processes on 127.0.0.1:
an agent killed mid-task, the master killed mid-run and restarted, an agent restarting,
garbage from clients and agents."""

from __future__ import annotations

import signal
import time

import grpc
import pytest
from distributed_cluster import Cluster, wait_for

HEARTBEAT = 0.3

# `hold` waits for a gate file (so the test decides when it may finish); every task appends
# its name to a log file, which shows what ran how many times.
KILL_AGENT = """
local function lines(path)
  if not fs.exists(path) then return 0 end
  local n = 0
  for _ in string.gmatch(fs.read(path), "[^\\n]+") do n = n + 1 end
  return n
end
local retry = task("retry")
  :command(function(this, params)
    fs.append(params.dir .. "/retry.log", "attempt\\n")
    if lines(params.dir .. "/retry.log") == 1 then time.sleep(60) end
    return true, "second try"
  end)
  :delegate_to({ tags = { pool = "p" } })
  :retries(1)
  :timeout("90s")
local once = task("once")
  :command(function(this, params) time.sleep(60) return true end)
  :delegate_to("first")
  :timeout("90s")
local after = task("after"):depends_on({ "retry" }):command(function() return true, "went on" end)
workflow.define("survive"):tasks({ retry, once, after }):config({ retry_delay = "100ms" })
"""

CHAIN = """
local function step(name, wait_for_gate)
  return task(name):command(function(this, params)
    fs.append(params.dir .. "/steps.log", name .. "\\n")
    if wait_for_gate then
      while not fs.exists(params.dir .. "/gate") do time.sleep(0.05) end
    end
    return true, name .. " done", { step = name }
  end):delegate_to("worker"):timeout("90s")
end
local t1 = step("t1")
local t2 = step("t2"):depends_on({ "t1" })
local t3 = step("t3", true):depends_on({ "t2" })
local t4 = step("t4"):depends_on({ "t3" })
workflow.define("chain"):tasks({ t1, t2, t3, t4 })
"""


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def test_agent_killed_mid_task_is_lost_and_its_task_replaced(cluster: Cluster) -> None:
    cluster.start_master()
    first = cluster.start_agent("first", "pool=p", heartbeat=f"{HEARTBEAT}s")
    path = cluster.write("survive.sloth", KILL_AGENT)
    client = cluster.client()
    plan = client.submit_run(str(path), path.read_text(), params={"dir": str(cluster.root)})
    run_id = plan[0].run_id
    wait_for(lambda: client.get_agent("first")["running_tasks"] == 2, what="both tasks on 'first'")
    cluster.start_agent("second", "pool=p", heartbeat=f"{HEARTBEAT}s")
    killed_at = time.monotonic()
    cluster.kill(first, signal.SIGKILL)
    wait_for(lambda: client.get_agent("first")["status"] == "lost", what="'first' marked lost", every=0.02)
    took = time.monotonic() - killed_at
    assert took < 3 * HEARTBEAT + 1.0, f"lost after {took:.2f}s"
    result = list(client.follow_run(run_id))[-1]
    tasks = {t.name: t for t in result.tasks}
    assert tasks["retry"].status.value == "success" and tasks["retry"].agent == "second"
    assert tasks["retry"].attempts == 2 and tasks["retry"].message == "second try"
    assert tasks["once"].status.value == "failed" and "agent lost" in tasks["once"].error
    assert tasks["after"].status.value == "success"  # the run went on
    assert result.status.value == "failed"
    with cluster.store() as store:
        events = wait_for(
            lambda: [e for e in store.events.list("agent.disconnected") if e.data.get("agent") == "first"],
            what="agent.disconnected in the store",
        )
        assert events[0].data["reason"] == "lost"
        attempts = [a for a in store.runs.get_run(run_id)["tasks"] if a["task"] == "retry"]
        assert [a["attempt"] for a in attempts] == [1, 2]
        assert "agent lost" in attempts[0]["error"] and attempts[1]["agent"] == "second"
    client.close()


def test_master_killed_mid_run_resumes_without_rerunning_finished_tasks(cluster: Cluster) -> None:
    address = cluster.start_master()
    cluster.start_agent("worker", heartbeat=f"{HEARTBEAT}s")
    path = cluster.write("chain.sloth", CHAIN)
    steps = cluster.root / "steps.log"
    done = cluster.cli("run", str(path), "--master", address, "--detach", "-p", f"dir={cluster.root}")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    wait_for(lambda: steps.exists() and "t3" in steps.read_text(), what="t3 to start")
    assert cluster.master_proc is not None
    cluster.kill(cluster.master_proc, signal.SIGKILL)
    cluster.start_master(address)  # same store, same port: the agent finds it by itself
    assert cluster.address == address
    (cluster.root / "gate").write_text("open")
    with cluster.client() as client:
        result = list(client.follow_run(run_id, reconnect_for=30.0))[-1]
        agents = client.list_agents()
    assert result.status.value == "success", cluster.logs()
    assert [t.name for t in result.tasks] == ["t1", "t2", "t3", "t4"]
    assert all(t.status.value == "success" and t.agent == "worker" for t in result.tasks)
    assert {t.name: t.outputs for t in result.tasks}["t1"] == {"step": "t1"}
    assert steps.read_text().split() == ["t1", "t2", "t3", "t4"]  # nothing ran twice
    assert [(a["name"], a["status"]) for a in agents] == [("worker", "connected")]
    run = cluster.cli_json("runs", "show", run_id, "--master", address, "--json")
    assert run["status"] == "success" and run["finished_at"]


def test_agent_restart_keeps_one_row(cluster: Cluster) -> None:
    cluster.start_master()
    first = cluster.start_agent("again", "role=x", heartbeat=f"{HEARTBEAT}s")
    with cluster.client() as client:
        before = client.get_agent("again")
        cluster.kill(first, signal.SIGKILL)
        cluster.start_agent("again", "role=y", heartbeat=f"{HEARTBEAT}s")
        after = wait_for(
            lambda: (a := client.get_agent("again"))["tags"] == {"role": "y"} and a, what="re-registration"
        )
        assert after["status"] == "connected"
        assert after["registered_at"] == before["registered_at"]
        assert [a["name"] for a in client.list_agents()] == ["again"]
    with cluster.store() as store:

        def rows() -> list:
            return store.backend.query_all("SELECT name, tags FROM agents")

        wait_for(lambda: rows() == [("again", '{"role": "y"}')], what="one updated row")


def test_garbage_gets_status_codes_and_master_keeps_serving(cluster: Cluster) -> None:
    from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
    from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
    from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
    from sloth_engine.errors import NotFound, UsageError

    address = cluster.start_master()
    cluster.start_agent("steady", heartbeat=f"{HEARTBEAT}s")
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
    stub = mgrpc.MasterServiceStub(channel)

    def connect(*messages: apb.AgentToMaster) -> grpc.StatusCode:
        call = stub.Connect(iter(messages), timeout=10)
        with pytest.raises(grpc.RpcError) as caught:
            for _ in call:
                pass
        return caught.value.code()

    beat = apb.AgentToMaster(heartbeat=apb.Heartbeat())
    assert connect(beat) == grpc.StatusCode.FAILED_PRECONDITION
    assert connect(apb.AgentToMaster(register=apb.Register(name=" "))) == grpc.StatusCode.INVALID_ARGUMENT
    register = apb.AgentToMaster(register=apb.Register(name="rogue", instance_id="x"))
    assert connect(register, register) == grpc.StatusCode.FAILED_PRECONDITION
    assert connect(register, apb.AgentToMaster()) == grpc.StatusCode.INVALID_ARGUMENT
    huge = mpb.SubmitRunRequest(path="big.sloth", source="-- " + "x" * (9 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitRun(huge, timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitRun(
            mpb.SubmitRunRequest(path="x.sloth", source="workflow.define('w')", values_json=b"{nope")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitRun(mpb.SubmitRunRequest(path="x.sloth", source="this is not lua"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "x.sloth:1" in caught.value.details()
    unknown = "no-such-run"
    for call, request in (
        (stub.GetRun, mpb.GetRunRequest(run_id=unknown)),
        (stub.CancelRun, mpb.CancelRunRequest(run_id=unknown)),
        (stub.GetRunLogs, mpb.GetRunLogsRequest(run_id=unknown)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.WatchRun(mpb.WatchRunRequest(run_id="no-such-run"), timeout=10))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    channel.close()
    with cluster.client() as client:
        with pytest.raises(NotFound):
            client.get_run("no-such-run")
        with pytest.raises(UsageError):
            client.submit_run("x.sloth", "this is not lua")
        assert client.health() == "SERVING"
        assert client.get_agent("steady")["status"] == "connected"
        path = cluster.write(
            "ok.sloth",
            'local t = task("t"):command(function() return true, "fine" end):delegate_to("steady")\nworkflow.define("ok"):tasks({ t })\n',
        )
        plan = client.submit_run(str(path), path.read_text())
        result = list(client.follow_run(plan[0].run_id))[-1]
        assert result.status.value == "success" and result.tasks[0].agent == "steady"
