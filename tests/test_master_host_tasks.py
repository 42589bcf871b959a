"""Tasks placed on the master's host run in child processes, with real master processes: a
master SIGKILLed while such a task runs is restarted and adopts it (the task runs once), a
child that died with it is recorded lost and retried as attempt 2, a child that finished
while no master ran has its result collected; placement `master`, --no-local-tasks and the
default placement."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from distributed_cluster import Cluster, wait_for

SLOW = """
local slow = task("slow"):command(function(this, params)
  fs.append(params.dir .. "/side.log", "start\\n")
  print("working in slow")
  while not fs.exists(params.dir .. "/gate") do time.sleep(0.05) end
  fs.append(params.dir .. "/side.log", "end\\n")
  return true, "slow done", { n = 42 }
end):retries(2):timeout("120s")
local after = task("after"):depends_on({ "slow" }):command(function(this, params, input)
  return true, "after " .. tostring(input.slow.n)
end)
workflow.define("host"):tasks({ slow, after }):config({ retry_delay = "100ms" })
"""


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        gate = tmp_path / "gate"
        gate.write_text("")  # lets any child still waiting end
        c.close()


def _submit(cluster: Cluster, text: str = SLOW, **kwargs: object) -> str:
    path = cluster.write("host.sloth", text)
    with cluster.client() as client:
        plan = client.submit_run(str(path), text, params={"dir": str(cluster.root)}, **kwargs)
    return plan[0].run_id


def _side(cluster: Cluster) -> list[str]:
    side = cluster.root / "side.log"
    return side.read_text().split() if side.exists() else []


def _child(cluster: Cluster, run_id: str) -> dict[str, object]:
    found = list((cluster.home / "master" / "host" / run_id).glob("slow-*/1/child.json"))
    return json.loads(found[0].read_text()) if found else {}


def _run(cluster: Cluster, run_id: str) -> dict:
    with cluster.store() as store:
        return store.runs.get_run(run_id)


def _ended(cluster: Cluster, run_id: str) -> dict | None:
    run = _run(cluster, run_id)
    return run if run["finished_at"] is not None else None


def _kill_master_mid_task(cluster: Cluster) -> tuple[str, int]:
    cluster.start_master()
    run_id = _submit(cluster)
    wait_for(lambda: _side(cluster) == ["start"], 30, "the task to start")
    pid = int(wait_for(lambda: _child(cluster, run_id).get("pid"), 15, "the child's identity"))
    assert pid != cluster.master_proc.pid
    cluster.kill(cluster.master_proc, signal.SIGKILL)
    return run_id, pid


def test_a_task_running_when_its_master_is_killed_is_adopted_and_runs_once(cluster: Cluster) -> None:
    run_id, pid = _kill_master_mid_task(cluster)
    os.kill(pid, 0)  # the child outlived its master
    cluster.start_master()
    (cluster.root / "gate").write_text("")
    run = wait_for(lambda: _ended(cluster, run_id), 60, "the run to end")
    assert run["status"] == "success", cluster.logs()
    assert _side(cluster) == ["start", "end"]
    slow = [t for t in run["tasks"] if t["task"] == "slow"]
    assert [(t["attempt"], t["status"], t["agent"]) for t in slow] == [(1, "success", "master")]
    after = [t for t in run["tasks"] if t["task"] == "after"]
    assert after[0]["message"] == "after 42" and after[0]["agent"] == "master"
    with cluster.store() as store:
        logs = [r["line"] for r in store.runs.get_logs(run_id, "slow")]
    assert logs.count("working in slow") == 1, logs  # forwarded once, by one master or the other


def test_a_task_whose_process_died_with_its_master_is_lost_then_retried_as_attempt_2(
    cluster: Cluster,
) -> None:
    run_id, pid = _kill_master_mid_task(cluster)
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), 15, "the child to die")
    (cluster.root / "gate").write_text("")
    cluster.start_master()
    run = wait_for(lambda: _ended(cluster, run_id), 60, "the run to end")
    assert run["status"] == "success", cluster.logs()
    slow = sorted((t for t in run["tasks"] if t["task"] == "slow"), key=lambda t: t["attempt"])
    # attempt 1 is recorded as it is for any failed attempt that is retried: `retrying`
    assert [(t["attempt"], t["status"]) for t in slow] == [(1, "retrying"), (2, "success")]
    assert slow[0]["error"].startswith("lost: attempt 1")
    assert _side(cluster) == ["start", "start", "end"]


def test_a_task_that_finished_while_no_master_ran_keeps_its_result(cluster: Cluster) -> None:
    run_id, pid = _kill_master_mid_task(cluster)
    (cluster.root / "gate").write_text("")
    wait_for(lambda: _side(cluster) == ["start", "end"], 30, "the orphan to finish")
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), 15, "the child to exit")
    cluster.start_master()
    run = wait_for(lambda: _ended(cluster, run_id), 60, "the run to end")
    assert run["status"] == "success", cluster.logs()
    slow = [t for t in run["tasks"] if t["task"] == "slow"]
    assert [(t["attempt"], t["status"], t["message"]) for t in slow] == [(1, "success", "slow done")]
    assert _side(cluster) == ["start", "end"]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


QUICK = """
local one = task("one"):command(function() return true, "one ran" end)
local two = task("two"):command(function() return true end):delegate_to("worker")
workflow.define("quick"):tasks({ one, two })
"""


def test_no_local_tasks_refuses_at_submit_naming_the_tasks(cluster: Cluster) -> None:
    cluster.start_master("127.0.0.1:0", "--no-local-tasks")
    path = cluster.write("quick.sloth", QUICK)
    done = cluster.cli("run", str(path), "--master", cluster.address)
    assert done.returncode != 0
    assert "--no-local-tasks" in done.stderr and "one" in done.stderr, done.stderr
    assert "two" not in done.stderr.split("task(s)")[1].split("have")[0]
    with cluster.store() as store:
        assert store.runs.list_runs() == []


def test_default_placement_sends_unplaced_tasks_to_an_agent(cluster: Cluster) -> None:
    cluster.start_master("127.0.0.1:0", "--no-local-tasks")
    cluster.start_agent("worker")
    path = cluster.write("quick.sloth", QUICK)
    done = cluster.cli("run", str(path), "--master", cluster.address, "--default-agent", "worker")
    assert done.returncode == 0, done.stderr + cluster.logs()
    configured = QUICK.replace(
        'workflow.define("quick"):tasks({ one, two })',
        ('workflow.define("quick"):tasks({ one, two }):config({ default_delegate_to = "worker" })'),
    )
    path = cluster.write("configured.sloth", configured)
    done = cluster.cli("run", str(path), "--master", cluster.address)
    assert done.returncode == 0, done.stderr + cluster.logs()
    with cluster.store() as store:
        runs = store.runs.unfinished_runs()
    assert runs == []
    listed = cluster.cli_json("runs", "list", "--json")
    for item in listed:
        run = _run(cluster, item["run_id"])
        assert {t["agent"] for t in run["tasks"]} == {"worker"}, run["tasks"]


ONE = """
local slow = task("slow"):command(function(this, params)
  fs.append(params.dir .. "/side.log", "start\\n")
  while not fs.exists(params.dir .. "/gate") do time.sleep(0.05) end
  fs.append(params.dir .. "/side.log", "end\\n")
  return true, "slow done"
end):timeout("120s")
workflow.define("one"):tasks({ slow })
"""


def test_a_full_disk_store_never_makes_the_client_and_the_store_disagree(cluster: Cluster) -> None:
    import subprocess
    import sys

    full = cluster.root / "disk-full"
    base = cluster.env
    cluster.env = lambda: {**base(), "SLOTH_TEST_FULL_DISK": str(full), "SLOTH_STORE_RETRY_S": "1"}
    cluster.start_master()
    path = cluster.write("one.sloth", ONE)
    client = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(path), "--master", cluster.address]
        + ["-p", f"dir={cluster.root}"],
        env=cluster.env(),
        cwd=cluster.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _side(cluster) == ["start"], 30, "the task to start")
        full.write_text("")  # from now on every write of the store fails: 'database or disk is full'
        (cluster.root / "gate").write_text("")
        out, err = client.communicate(timeout=60)
    finally:
        client.kill()
    assert client.returncode == 3, err
    assert "OUTCOME NOT RECORDED: the run ended success" in err and "disk is full" in err, err
    assert "FAILED" not in err
    runs = cluster.cli_json("runs", "list", "--json")
    assert [r["status"] for r in runs] == ["running"]  # the store never said otherwise
    assert cluster.master_proc is not None
    cluster.kill(cluster.master_proc, signal.SIGKILL)
    full.unlink()  # space again
    cluster.start_master()  # records the kept outcome before it resumes anything
    run = wait_for(lambda: _ended(cluster, runs[0]["run_id"]), 30, "the outcome to be recorded")
    assert run["status"] == "success"
    assert [(t["attempt"], t["status"]) for t in run["tasks"]] == [(1, "success")]
    assert _side(cluster) == ["start", "end"]  # nothing ran again
    assert "Traceback" not in (cluster.root / "master.log").read_text()


def test_cancelling_a_run_stops_its_process_on_the_masters_host(cluster: Cluster) -> None:
    cluster.start_master()
    run_id = _submit(cluster)
    wait_for(lambda: _side(cluster) == ["start"], 30, "the task to start")
    pid = int(wait_for(lambda: _child(cluster, run_id).get("pid"), 15, "the child's identity"))
    with cluster.client() as client:
        client.cancel_run(run_id, "enough")
    run = wait_for(lambda: _ended(cluster, run_id), 30, "the run to end")
    assert run["status"] == "cancelled"
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), 15, "the child to stop")
    assert _side(cluster) == ["start"]


FILLS = """
task("fill"):command(function(this, params)
  fs.write(params.full, "")  -- from here on the store's disk is full
  return true, "filled"
end)
"""


def test_a_local_run_whose_end_is_refused_says_so_and_is_recorded_by_the_next_run(cluster: Cluster) -> None:
    full = cluster.root / "disk-full"
    base = cluster.env
    cluster.env = lambda: {**base(), "SLOTH_TEST_FULL_DISK": str(full), "SLOTH_STORE_RETRY_S": "0.5"}
    path = cluster.write("fill.sloth", FILLS)
    done = cluster.cli("run", str(path), "-p", f"full={full}")
    assert done.returncode == 3, done.stderr
    assert "OUTCOME NOT RECORDED: the run ended success" in done.stderr and "FAILED" not in done.stderr
    assert "Traceback" not in done.stderr
    listed = cluster.cli("runs", "list")  # it writes (abandoned runs): refused, clearly
    assert listed.returncode != 0 and "disk is full" in listed.stderr and "Traceback" not in listed.stderr
    with cluster.store() as store:
        assert [r["status"] for r in store.runs.list_runs()] == ["running"]  # never said otherwise
    full.unlink()
    quick = cluster.write("quick.sloth", 'task("q"):command("true")\n')
    assert cluster.cli("run", str(quick)).returncode == 0
    runs = {r["workflow"]: r["status"] for r in cluster.cli_json("runs", "list", "--json")}
    assert list(runs.values()) == ["success", "success"], runs
