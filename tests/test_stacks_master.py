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
