"""Runs of a stack submitted to a master go through the stack's lifecycle, as local runs do."""

from __future__ import annotations

import json
from pathlib import Path

from distributed_cluster import Cluster

FLOW = """
local build = task("build"):delegate_to("m1"):command("echo built")
local deploy = task("deploy"):depends_on("build"):command(function()
  stack.set_output("version", "v2")   -- on the master, which has the store
  return true, "deployed"
end)
workflow.define("web_deploy"):tasks({ build, deploy })
  :config({ stack = "web", require_lock = true, create_snapshot = true })
"""


def test_a_stack_run_on_a_master_is_recorded_and_respects_the_lock(tmp_path: Path) -> None:
    c = Cluster(tmp_path)
    try:
        c.start_master("127.0.0.1:0")
        c.start_agent("m1")
        flow = c.write("web.sloth", FLOW)
        first = c.cli("run", str(flow), "--master", c.address, "-o", "json")
        assert first.returncode == 0, first.stderr
        shown = c.cli_json("stack", "show", "web", "--json")
        assert shown["execution_count"] == 1 and shown["status"] == "success", shown
        held = c.cli("stack", "lock", "acquire", "web", "--reason", "maintenance", "--locked-by", "ops")
        assert held.returncode == 0, held.stderr
        second = c.cli("run", str(flow), "--master", c.address, "-o", "json")
        assert second.returncode == 1, (second.stdout, second.stderr)
        report = json.loads(second.stdout)
        assert report["status"] == "failed" and "ops" in report["error"] and "maintenance" in report["error"]
        assert c.cli_json("stack", "show", "web", "--json")["execution_count"] == 1
    finally:
        c.close()


GATED = """
local write = task("write"):command(function()
  local waited = 0
  while not fs.exists("%(gate)s") do  -- held until the test has seen the run going
    time.sleep(0.02)
    waited = waited + 0.02
    if waited > 120 then return false, "the gate never opened" end
  end
  exec.run("printf hello > %(path)s")
  stack.register_resource({ type = "file", name = "motd", properties = { path = "%(path)s", content = "hello" } })
  return true, "written"
end)
workflow.define("site"):tasks({ write }):config({ stack = "site" })
"""


def test_a_drift_fix_run_on_a_master_has_a_live_feed_like_a_submitted_run(tmp_path: Path) -> None:
    """FixDrift's runs are in the master's run feed: WatchRun streams their events while they
    run and ends with their report (it answered at once with a `running` record before), and
    `stack drift fix --master` follows them to their end."""
    from sloth_engine.executor.results import RunEvent, RunResult

    c = Cluster(tmp_path)
    try:
        c.start_master("127.0.0.1:0")
        gate, motd = tmp_path / "gate", tmp_path / "motd.txt"
        site = c.write("site.sloth", GATED % {"gate": gate, "path": motd})
        gate.touch()
        first = c.cli("run", str(site), "--master", c.address, "-o", "json")
        assert first.returncode == 0, first.stdout + first.stderr + c.logs()
        motd.write_text("tampered")
        gate.unlink()
        with c.client() as client:
            started = client.fix_drift("site")
            assert [g["tasks"] for g in started["groups"]] == [["write"]], started
            (run_id,) = started["run_ids"]
            seen: list[RunEvent] = []
            result = None
            for item in client.follow_run(run_id):
                if isinstance(item, RunResult):
                    result = item
                    break
                seen.append(item)
                if item.kind == "task.started" and item.task == "write":
                    assert not gate.exists()
                    gate.touch()  # the feed showed the task running: let it finish
            assert result is not None and result.status.value == "success", (result, c.logs())
            assert [e.kind for e in seen if e.task == "write"][:1] == ["task.started"]
            assert any(e.kind == "task.completed" and e.task == "write" for e in seen), seen
            assert motd.read_text() == "hello"
            assert client.get_run(run_id)["status"] == "success"
        motd.write_text("tampered again")
        fix = c.cli("stack", "drift", "fix", "site", "--yes", "--master", c.address)
        assert fix.returncode == 0, fix.stdout + fix.stderr + c.logs()
        assert "fixed: " in fix.stdout and "SUCCESS" in fix.stdout + fix.stderr, fix
        assert motd.read_text() == "hello"
    finally:
        c.close()
