"""Tasks on agents reach the store through the master (issue 13 item 1), with real master and
agent processes: state, CAS, locks whose leases the agent renews and that expire when it dies,
stack resources, and the same errors as in a local run."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed_cluster import Cluster, wait_for


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        c.start_master()
        yield c
    finally:
        c.close()


def _run(cluster: Cluster, name: str, text: str, timeout: float = 120.0) -> Any:
    path = cluster.write(name, text)
    with cluster.client() as client:
        plan = client.submit_run(str(path), path.read_text())
        return list(client.follow_run(plan[0].run_id))[-1]


def _by_name(result: Any) -> dict[str, Any]:
    return {t.name: t for t in result.tasks}


COUNTER = """
local function bump(agent)
  return task("bump_" .. agent):delegate_to(agent):timeout("110s"):command(function()
    for i = 1, 200 do
      state.with_lock("counter-lock", function()
        local n = state.get("counter", 0)
        state.set("counter", n + 1)
      end)
    end
    return true, "done"
  end)
end
local function cas(agent)
  return task("cas_" .. agent):delegate_to(agent):timeout("110s"):command(function()
    local done = 0
    while done < 100 do
      local old = state.get("cas-counter")
      if state.compare_and_swap("cas-counter", old, (old or 0) + 1) then done = done + 1 end
    end
    return true, "done"
  end)
end
workflow.define("count"):tasks({ bump("a1"), bump("a2"), cas("a1"), cas("a2") })
"""


def test_two_agents_count_under_a_lock_and_with_cas_without_losing_an_update(cluster: Cluster) -> None:
    cluster.start_agent("a1")
    cluster.start_agent("a2")
    result = _run(cluster, "count.sloth", COUNTER)
    assert result.status.value == "success", (result, cluster.logs())
    assert {t.agent for t in result.tasks} == {"a1", "a2"}
    with cluster.store() as store:
        assert store.state.get("default", "counter") == 400
        assert store.state.get("default", "cas-counter") == 200
        assert store.state.lock_info("counter-lock") is None


SAME = """
local function probe()
  local out = {}
  state.set("t", { 1, 2, x = { [5] = "five" } })
  local t = state.get("t")
  out.table = t[2] == 2 and t.x[5] == "five"
  state.set("f", 1.0)
  out.float = math.type(state.get("f"))
  out.inc = state.increment("n", 5)
  out.exists = state.exists("n")
  out.keys = table.concat(state.keys("*"), ",")
  out.ns = state.namespace("other").get("t") == nil
  local ok, err = pcall(state.set, "bad", function() end)
  out.bad = err
  local ok2, err2 = pcall(state.increment, "t")
  out.inc_err = err2
  local h = state.lock("L", { ttl = 30 })
  local h2, who = state.try_lock("L", 5)
  out.held = who
  local none, why = state.lock("L", { wait = 0.2 })
  out.lock_err = why
  out.token = h.token > 0
  out.renewed = h:renew(40)
  h:unlock()
  out.released = state.try_lock("L") ~= nil
  state.unlock("L")
  out.deleted = state.delete("n")
  out.ttl = pcall(state.set_with_ttl, "ttl", 1, "nonsense")
  return true, "ok", out
end
local here = task("here"):command(probe)
local there = task("there"):delegate_to("a1"):command(probe):depends_on({ "here" })
workflow.define("same"):tasks({ here, there })
"""


def _strip_place(text: str) -> str:
    return text.split(": ", 1)[1] if text.startswith(("same.sloth:", "/")) else text


def test_state_answers_and_errors_on_an_agent_are_those_of_a_local_run(cluster: Cluster) -> None:
    cluster.start_agent("a1")
    result = _run(cluster, "same.sloth", SAME)
    assert result.status.value == "success", (result, cluster.logs())
    here, there = _by_name(result)["here"].outputs, _by_name(result)["there"].outputs
    assert here["table"] is True and here["float"] == "float" and here["inc"] == 5
    assert "held by" in here["held"] and "held by" in here["lock_err"]
    assert "state key 'bad'" in here["bad"]
    # The same answers and error messages (the holder names the task: "RUN:here" / "RUN:there").
    same = {k: v.replace(":there", ":here") if isinstance(v, str) else v for k, v in there.items()}
    assert same == here
    assert there["inc"] == 5  # deleted at the end of "here"


STACK = """
local t = task("reg"):delegate_to("a1"):command(function()
  local status, res = stack.register_resource{ type = "file", name = "motd",
    properties = { path = "/tmp/motd", content = "hi" } }
  local again = stack.register_resource{ type = "file", name = "motd",
    properties = { path = "/tmp/motd", content = "hi" } }
  stack.set_output("url", "http://x")
  stack.update_resource("file", "motd", { state = "applied" })
  local got = stack.get_resource("file", "motd")
  return true, status .. "," .. again, { state = got.state, url = stack.get_output("url"),
    exists = stack.resource_exists("motd"), name = stack.get_name(),
    missing = stack.get_resource("file", "nope") == nil }
end)
workflow.define("stacked", { config = { stack = "web" } }):tasks({ t })
"""


def test_stack_resources_and_outputs_from_an_agent_land_in_the_masters_store(cluster: Cluster) -> None:
    cluster.start_agent("a1")
    result = _run(cluster, "stack.sloth", STACK)
    assert result.status.value == "success", (result, cluster.logs())
    task = _by_name(result)["reg"]
    assert task.message == "created,unchanged"
    assert task.outputs == {
        "state": "applied",
        "url": "http://x",
        "exists": True,
        "name": "web",
        "missing": True,
    }
    with cluster.store() as store:
        from sloth_engine.stacks import Stacks

        stacks = Stacks(store)
        assert stacks.resources.get("web", "file", "motd").state == "applied"
        assert stacks.catalog.outputs("web") == {"url": "http://x"}


HOLD = """
local hold = task("hold"):delegate_to("a1"):timeout("100s"):command(function()
  state.with_lock("lease", function()
    state.set("holding", true)
    while true do exec.run("sleep 0.2") end
  end, { ttl = 2 })
  return true
end)
workflow.define("hold"):tasks({ hold })
"""

TAKE = """
local take = task("take"):delegate_to("a2"):command(function()
  local h = state.lock("lease", { wait = 60, ttl = 10 })
  h:unlock()
  return true, "taken"
end)
workflow.define("take"):tasks({ take })
"""


def test_a_lease_renewed_by_an_agent_expires_when_it_is_killed_and_another_agent_takes_it(
    cluster: Cluster,
) -> None:
    a1 = cluster.start_agent("a1")
    cluster.start_agent("a2")
    path = cluster.write("hold.sloth", HOLD)
    with cluster.client() as client:
        client.submit_run(str(path), path.read_text())
    with cluster.store() as store:
        wait_for(lambda: store.state.get("default", "holding"), 60, "the lease to be taken")
        first = store.state.lock_info("lease")
        assert first is not None
        # Renewed while the task holds it: still held well past its 2s ttl.
        wait_for(
            lambda: (store.state.lock_info("lease") or first).expires_at > first.expires_at + 2.5,
            20,
            "the lease to be renewed",
        )
        assert store.state.lock_info("lease").token == first.token
    cluster.kill(a1, signal.SIGKILL)
    result = _run(cluster, "take.sloth", TAKE, timeout=60)
    assert result.status.value == "success", (result, cluster.logs())
    assert _by_name(result)["take"].message == "taken"


def test_a_delegated_task_imports_sibling_files_that_travel_in_the_bundle(cluster: Cluster) -> None:
    cluster.start_agent("a1")
    (cluster.root / "lib").mkdir()
    cluster.write(
        "lib/helpers.lua",
        'local util = import("util.lua")\nreturn { greet = function(n) return util.hi .. n end }\n',
    )
    cluster.write("util.lua", 'return { hi = "hello " }\n')
    text = (
        'local helpers = require("lib.helpers")\n'
        'local t = task("greet"):delegate_to("a1"):command(function()\n'
        '  local again = import("util.lua")\n'
        '  return true, helpers.greet("agent") .. "/" .. again.hi\n'
        "end)\n"
        'workflow.define("imports"):tasks({ t })\n'
    )
    path = cluster.write("imports.sloth", text)
    done = cluster.cli("run", str(path), "--master", cluster.address, "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()
    import json

    task = json.loads(done.stdout)["tasks"][0]
    assert (task["agent"], task["message"]) == ("a1", "hello agent/hello ")


SPIN = """
local function spin(name, timeout)
  return task(name):delegate_to("a1"):timeout(timeout):command(function()
    while true do
      state.increment(name)
      state.set(name .. "-last", state.get(name))
    end
  end)
end
workflow.define("spin"):tasks({ spin("spin_a", "2s"), spin("spin_b", "2s") })
workflow.define("forever"):tasks({ spin("spin_c", "300s") })
workflow.define("after"):tasks({ task("after"):delegate_to("a1"):command(function()
  return true, "counted " .. state.get("spin_a")
end) })
"""


def test_tasks_busy_with_state_calls_on_an_agent_stop_at_their_timeout_and_on_cancel(
    cluster: Cluster,
) -> None:
    """Tasks whose calls the agent's Lua thread chains (sent without a thread waiting, many
    tasks' calls in one message) still stop at their deadline and when their run is cancelled,
    with every call answered before it is counted, and the agent goes on serving."""
    cluster.start_agent("a1")
    path = cluster.write("spin.sloth", SPIN)
    with cluster.client() as client:
        plan = client.submit_run(str(path), path.read_text(), workflow="spin")
        result = list(client.follow_run(plan[0].run_id))[-1]
        assert {t.name: t.status.value for t in result.tasks} == {
            "spin_a": "timed_out",
            "spin_b": "timed_out",
        }, (result, cluster.logs())
        with cluster.store() as store:
            for name in ("spin_a", "spin_b"):
                count = store.state.get("default", name)
                assert count > 10
                # Each round sets `-last` from what it read after its increment: at most one behind.
                assert store.state.get("default", f"{name}-last") in (count, count - 1)
        plan = client.submit_run(str(path), path.read_text(), workflow="forever")
        with cluster.store() as store:
            wait_for(lambda: (store.state.get("default", "spin_c") or 0) > 20, 60, "spin_c to count")
        client.cancel_run(plan[0].run_id, "enough")
        result = list(client.follow_run(plan[0].run_id))[-1]
        assert result.tasks[0].status.value == "cancelled", (result, cluster.logs())
        plan = client.submit_run(str(path), path.read_text(), workflow="after")
        result = list(client.follow_run(plan[0].run_id))[-1]
    assert result.status.value == "success", (result, cluster.logs())
    with cluster.store() as store:
        assert result.tasks[0].message == f"counted {store.state.get('default', 'spin_a')}"


def test_a_sent_store_call_the_master_never_answers_fails_after_the_channel_timeout(cluster: Cluster) -> None:
    """`StoreChannel.send` (no thread waits on it): answered while the master runs; a StoreError
    naming the call once the (here 0.5 s) timeout passes while the master is stopped."""
    import asyncio

    import grpc

    from sloth_daemon.store_channel import StoreChannel
    from sloth_engine.errors import StoreError

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with grpc.aio.insecure_channel(cluster.address) as grpc_channel:
            channel = StoreChannel(timeout=0.5)
            channel.bind(grpc_channel)
            loop = asyncio.get_running_loop()
            first: asyncio.Future[Any] = loop.create_future()
            second: asyncio.Future[Any] = loop.create_future()

            def sent(future: asyncio.Future[Any]) -> Any:
                return lambda value, error: future.set_result((value, error))

            await asyncio.to_thread(
                channel.send, "state.increment", {"ns": "t", "key": "n", "delta": 2}, sent(first)
            )
            channel.flush()  # sent from another thread than the loop's: leaves at the flush
            answered = await asyncio.wait_for(first, 30)
            assert cluster.master_proc is not None
            cluster.master_proc.send_signal(signal.SIGSTOP)
            try:
                channel.send("state.get", {"ns": "t", "key": "n"}, sent(second))
                late = await asyncio.wait_for(second, 30)
            finally:
                cluster.master_proc.send_signal(signal.SIGCONT)
            channel.unbind("done")
            return list(answered), list(late)

    answered, late = asyncio.run(scenario())
    assert answered == [2, None]
    assert late[0] is None and isinstance(late[1], StoreError)
    assert str(late[1]) == "the master did not answer state.get within 0.5s"
