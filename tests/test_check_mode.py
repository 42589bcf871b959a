"""Check mode like Ansible's, through the real CLI: what would change (a unified diff of a file
with --diff) and a recap per run, while nothing changes on disk; `check_mode` in Lua."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

FLOW = """
local config = task("config"):command(function()
  file_ops.copy({ content = "port=8080\\nworkers=4\\n", dest = "{conf}" })
  return true, "configured"
end)
local verify = task("verify"):depends_on("config"):command(function()
  if check_mode then return true, "nothing to verify in check mode" end
  assert(fs.read("{conf}"):find("8080"), "the port was not set")
  return true, "verified"
end)
workflow.define("site"):tasks({ config, verify })
"""


def _run(tmp_path: Path, *flags: str) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")} | {
        "SLOTH_HOME": str(tmp_path / "home")
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sloth_daemon.cli.main",
            "run",
            str(tmp_path / "site.sloth"),
            "-o",
            "json",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_check_mode_shows_the_diff_and_a_recap_and_changes_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=80\nworkers=4\n")
    (tmp_path / "site.sloth").write_text(FLOW.replace("{conf}", str(conf)))

    report, stderr = _run(tmp_path, "--check", "--diff", "--show-output")
    assert conf.read_text() == "port=80\nworkers=4\n"  # nothing changed on disk
    assert report["recap"] == {"ok": 1, "changed": 1, "failed": 0, "skipped": 0}
    tasks = {t["name"]: t for t in report["tasks"]}
    assert tasks["config"]["changes"] == 1 and tasks["verify"]["changes"] == 0
    assert tasks["verify"]["message"] == "nothing to verify in check mode"
    assert f"config | would change: file_ops {conf}" in stderr
    assert "config | -port=80" in stderr and "config | +port=8080" in stderr
    assert "recap: ok=1 changed=1 failed=0 skipped=0" in stderr

    report, stderr = _run(tmp_path, "--dry-run")  # the alias, no diff asked
    assert conf.read_text() == "port=80\nworkers=4\n" and report["recap"]["changed"] == 1

    report, _ = _run(tmp_path)  # for real: changed once, then idempotent
    assert conf.read_text() == "port=8080\nworkers=4\n"
    assert report["recap"] == {"ok": 1, "changed": 1, "failed": 0, "skipped": 0}
    report, _ = _run(tmp_path)
    assert report["recap"] == {"ok": 2, "changed": 0, "failed": 0, "skipped": 0}


def test_changes_made_on_an_agent_reach_the_recap_through_the_master(tmp_path: Path) -> None:
    """The change lines travel with the agent's output: the master counts them as a local run does."""
    from distributed_cluster import Cluster

    conf = tmp_path / "app.conf"
    conf.write_text("port=80\nworkers=4\n")
    cluster = Cluster(tmp_path)
    try:
        address = cluster.start_master()
        cluster.start_agent("a1")
        flow = FLOW.replace("{conf}", str(conf)).replace('task("config")', 'task("config"):delegate_to("a1")')
        path = cluster.write("site.sloth", flow)
        done = cluster.cli("run", str(path), "--master", address, "-o", "json")
        assert done.returncode == 0, (done.stderr, cluster.logs())
        report = json.loads(done.stdout)
        assert report["recap"] == {"ok": 1, "changed": 1, "failed": 0, "skipped": 0}
        assert {t["name"]: t["changes"] for t in report["tasks"]} == {"config": 1, "verify": 0}
        assert conf.read_text() == "port=8080\nworkers=4\n"
        refused = cluster.cli("run", str(path), "--master", address, "--diff")
        assert refused.returncode == 2 and "--check and --diff run on this machine only" in refused.stderr
    finally:
        cluster.close()
