"""A master and three agents as real processes: delegation, load balancing, fallback, live
output, reports, runs and agent commands through the CLI and the client library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distributed_cluster import Cluster, wait_for

PIPELINE = """
local a = task("a")
  :command(function(this, params, input) log.info("hello from a") return true, "made", { v = 41 } end)
  :delegate_to({ any = true })
local b = task("b"):depends_on({ "a" })
  :command(function(this, params, input) return true, "got " .. input.a.v, { w = input.a.v + 1 } end)
  :delegate_to({ tags = { role = "build" } })
local c = task("c"):depends_on({ "b" })
  :command("echo shell on $SLOTH_TASK")
  :delegate_to("gamma")
local d = task("d"):depends_on({ "b", "c" })
  :command(function(this, params, input) return true, "local with " .. input.b.w end)
workflow.define("pipeline"):tasks({ a, b, c, d })
"""

SPREAD = """
local tasks = {}
for i = 1, 12 do
  tasks[#tasks + 1] = task("t" .. i):command(function() return true, "ok" end):delegate_to({ tags = { pool = "p" } })
end
workflow.define("spread"):tasks(tasks):config({ max_parallel_tasks = 4, load_balancing = "%s" })
"""

NO_MATCH = """
local x = task("x"):command(function() return true, "ran" end):delegate_to({ tags = { role = "gpu" } })
workflow.define("nomatch"):tasks({ x }):config({ fallback_local = %s })
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start_master()
        c.start_agent("alpha", "pool=p")
        c.start_agent("beta", "pool=p,role=build")
        c.start_agent("gamma", "")
        yield c
    finally:
        c.close()


def test_run_follows_live_with_agents_inputs_and_reports(cluster: Cluster) -> None:
    path = cluster.write("pipeline.sloth", PIPELINE)
    junit = cluster.root / "junit.xml"
    done = cluster.cli("run", str(path), "--master", cluster.address, "-o", "json", "--junit", str(junit), "--show-output")
    assert done.returncode == 0, done.stderr + cluster.logs()
    doc = json.loads(done.stdout)
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert doc["status"] == "success"
    assert tasks["b"]["agent"] == "beta" and tasks["b"]["message"] == "got 41"
    assert tasks["c"]["agent"] == "gamma" and tasks["c"]["outputs"]["exit_code"] == 0
    assert tasks["d"]["agent"] == "master" and tasks["d"]["message"] == "local with 42"
    assert tasks["a"]["agent"] in ("alpha", "beta", "gamma")
    assert "[pipeline] a | [INFO] hello from a" in done.stderr
    assert "[pipeline] c | shell on c" in done.stderr
    assert 'testsuite name="pipeline"' in junit.read_text()
    run = cluster.cli_json("runs", "show", doc["run_id"], "--master", cluster.address, "--json")
    assert run["status"] == "success" and {t["agent"] for t in run["tasks"]} >= {"beta", "gamma", "master"}
    logs = cluster.cli("runs", "logs", doc["run_id"], "--master", cluster.address)
    assert "[a#1] [INFO] hello from a" in logs.stdout and "[c#1] shell on c" in logs.stdout
    listed = cluster.cli("runs", "list", "--master", cluster.address)
    assert doc["run_id"] in listed.stdout


@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded", "tags"])
def test_load_balancing_spreads_over_matching_agents(cluster: Cluster, strategy: str) -> None:
    path = cluster.write(f"spread-{strategy}.sloth", SPREAD % strategy)
    doc = cluster.cli_json("run", str(path), "--master", cluster.address, "-o", "json")
    used = [t["agent"] for t in doc["tasks"]]
    assert set(used) <= {"alpha", "beta"}
    if strategy == "round_robin":
        assert used.count("alpha") == used.count("beta") == 6
    elif strategy == "tags":
        assert set(used) == {"alpha"}  # the most specific match: alpha has only pool=p
    else:
        assert set(used) == {"alpha", "beta"}


def test_no_matching_agent_fails_clearly_or_falls_back(cluster: Cluster) -> None:
    path = cluster.write("nomatch.sloth", NO_MATCH % "false")
    done = cluster.cli("run", str(path), "--master", cluster.address, "-o", "json")
    assert done.returncode == 1
    task = json.loads(done.stdout)["tasks"][0]
    assert task["status"] == "failed" and "no agent matches tags role=gpu" in task["error"]
    path = cluster.write("fallback.sloth", NO_MATCH % "true")
    doc = cluster.cli_json("run", str(path), "--master", cluster.address, "-o", "json")
    assert doc["tasks"][0]["agent"] == "master" and doc["tasks"][0]["message"] == "ran"


def test_delegate_flag_detach_and_cancel(cluster: Cluster) -> None:
    path = cluster.write(
        "slow.sloth",
        'local s = task("s"):command("sleep 30")\nworkflow.define("slow"):tasks({ s })\n',
    )
    done = cluster.cli("run", str(path), "--master", cluster.address, "-d", "gamma", "--detach")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    with cluster.client() as client:
        wait_for(lambda: client.get_agent("gamma")["running_tasks"] == 1, what="the task on gamma")
    cancel = cluster.cli("runs", "cancel", run_id, "--master", cluster.address)
    assert cancel.returncode == 0, cancel.stderr
    with cluster.client() as client:
        result = list(client.follow_run(run_id))[-1]
    assert result.status.value == "cancelled"
    assert result.tasks[0].status.value == "cancelled"
    with cluster.client() as client:
        wait_for(lambda: client.get_agent("gamma")["running_tasks"] == 0, what="gamma to stop the task")
    again = cluster.cli("runs", "cancel", run_id, "--master", cluster.address)
    assert again.returncode == 1 and "already finished" in again.stderr


def test_agent_commands(cluster: Cluster) -> None:
    listed = cluster.cli("agent", "list", "--master", cluster.address)
    assert listed.returncode == 0
    for name in ("alpha", "beta", "gamma"):
        assert name in listed.stdout
    shown = cluster.cli_json("agent", "show", "beta", "--master", cluster.address, "--json")
    assert shown["tags"] == {"pool": "p", "role": "build"} and shown["status"] == "connected"
    assert shown["facts"]["hostname"] and shown["metrics"]["mem_total"] > 0
    modules = cluster.cli("agent", "modules", "alpha", "--master", cluster.address)
    assert "exec" in modules.stdout.split()
    rows = {r["module"]: r for r in cluster.cli_json("agent", "modules", "alpha", "--master", cluster.address, "--json")}
    assert rows["git"]["found"] == ["git"] and rows["gitops"]["tools"] == ["git", "kubectl"]
    assert rows["firewall"]["tools"] == ["firewall-cmd", "ufw", "nft", "iptables"]
    metrics = cluster.cli_json("agent", "metrics", "alpha", "--master", cluster.address, "--json")
    assert "cpu_percent" in metrics
    ran = cluster.cli("agent", "exec", "alpha", "--master", cluster.address, "--", "echo out; echo err >&2; exit 3")
    assert ran.returncode == 3 and "out" in ran.stdout and "err" in ran.stderr
    missing = cluster.cli("agent", "show", "nobody", "--master", cluster.address)
    assert missing.returncode == 1 and "no agent named 'nobody'" in missing.stderr
    assert "Traceback" not in missing.stderr
    with cluster.client() as client:
        watched = client.watch_agents("alpha")
        first = next(watched)
        second = next(watched)  # the next heartbeat
        watched.close()
        assert first["name"] == second["name"] == "alpha"
        assert client.health() == "SERVING"


def test_agent_stop_and_local_agent_table(cluster: Cluster) -> None:
    proc = cluster.start_agent("short-lived")
    done = cluster.cli("agent", "stop", "short-lived", "--master", cluster.address)
    assert done.returncode == 0, done.stderr
    assert proc.wait(timeout=15) == 0
    with cluster.client() as client:
        wait_for(lambda: client.get_agent("short-lived")["status"] == "stopped", what="status stopped")
    # Without --master, `agent list` reads the store's agents table.
    rows = wait_for(
        lambda: [a for a in cluster.cli_json("agent", "list", "--json") if a["name"] == "short-lived" and a["status"] == "stopped"],
        what="the stopped agent's row",
    )
    assert len(rows) == 1


def test_unreadable_file_and_bad_workflow_are_usage_errors(cluster: Cluster, tmp_path: Path) -> None:
    missing = cluster.cli("run", str(tmp_path / "nope.sloth"), "--master", cluster.address)
    assert missing.returncode == 2 and "cannot read workflow file" in missing.stderr
    bad = cluster.write("bad.sloth", 'local x = task("x"):nonsense()\nworkflow.define("w"):tasks({x})\n')
    done = cluster.cli("run", str(bad), "--master", cluster.address)
    assert done.returncode == 2 and "bad.sloth:1" in done.stderr and "Traceback" not in done.stderr


FACTS = """
local here = task("here"):command(function()
  local f = facts.get_all({ agent = "beta" })
  return true, "ok", { host = f.hostname, total = f.memory.total }
end)
local there = task("there"):delegate_to("alpha"):command(function()
  local mem = facts.get_memory({ agent = "beta" })
  local ok, err = pcall(facts.get_all, { agent = "nobody" })
  return true, "ok", { total = mem.total, missing = tostring(err) }
end)
workflow.define("facts"):tasks({ here, there })
"""


def test_facts_of_an_agent_through_the_master(cluster: Cluster) -> None:
    import socket

    path = cluster.write("facts.sloth", FACTS)
    doc = cluster.cli_json("run", str(path), "--master", cluster.address, "-o", "json")
    tasks = {t["name"]: t for t in doc["tasks"]}
    assert doc["status"] == "success", doc
    assert tasks["here"]["agent"] == "master" and tasks["there"]["agent"] == "alpha"
    assert tasks["here"]["outputs"]["host"] == socket.gethostname()
    assert tasks["here"]["outputs"]["total"] == tasks["there"]["outputs"]["total"] > 0
    assert "no agent named 'nobody'" in tasks["there"]["outputs"]["missing"]


def test_ctrl_c_cancels_the_run_on_the_master(cluster: Cluster) -> None:
    import signal
    import subprocess
    import sys

    path = cluster.write(
        "interrupt.sloth",
        'local s = task("s"):command("sleep 30")\nworkflow.define("interrupt"):tasks({ s })\n',
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(path), "--master", cluster.address, "-d", "gamma", "-o", "json"],
        env=cluster.env(),
        cwd=cluster.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with cluster.client() as client:
            wait_for(lambda: client.get_agent("gamma")["running_tasks"] == 1, what="the task on gamma")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert json.loads(out)["status"] == "cancelled", (out, err)
    assert "Traceback" not in err


def test_metrics_endpoint(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = Cluster(tmp_path)
    try:
        c.start_master("127.0.0.1:0", "--metrics-listen", f"127.0.0.1:{port}")
        c.start_agent("m1")
        text = wait_for(
            lambda: (t := urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
            and 'sloth_agents{status="connected"} 1.0' in t
            and t,
            what="the agent in /metrics",
        )
        assert "sloth_heartbeat_lag_seconds_bucket" in text and "sloth_tasks_dispatched_total" in text
        flow = c.write(
            "metrics.sloth",
            'local a = task("a"):delegate_to("m1"):command(function()\n'
            '  metrics.counter("deploys", 2, { env = "prod" })\n'
            '  metrics.gauge("queue_depth", 7)\n'
            "  return true\n"
            "end)\n"
            'workflow.define("measured"):tasks({ a })\n',
        )
        done = c.cli("run", str(flow), "--master", c.address)
        assert done.returncode == 0, done.stderr
        text = wait_for(
            lambda: (t := urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
            and "sloth_runs_finished_total" in t
            and t,
            what="the finished run in /metrics",
        )
        assert 'sloth_workflow_deploys_total{env="prod",workflow="measured"} 2.0' in text
        assert 'sloth_workflow_queue_depth{workflow="measured"} 7.0' in text
        assert 'sloth_task_duration_seconds_count{status="success",workflow="measured"} 1.0' in text
        assert 'sloth_runs_finished_total{status="success",workflow="measured"} 1.0' in text
    finally:
        c.close()
