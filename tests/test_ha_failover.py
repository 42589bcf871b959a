"""Several masters on one PostgreSQL database (`master --ha`): three master processes and two
agents on 127.0.0.1, the leader killed or paused mid-run."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_cluster import wait_for
from ha_cluster import HaCluster, ha_cluster

pytestmark = pytest.mark.postgres

# Every task appends its name to steps.log (what ran how many times); t3 waits for a gate file
# so the test decides when the leader dies.
CHAIN = """
local function step(name, wait_for_gate)
  return task(name):command(function(this, params)
    fs.append(params.dir .. "/steps.log", name .. "\\n")
    if wait_for_gate then
      while not fs.exists(params.dir .. "/gate") do time.sleep(0.05) end
    end
    return true, name .. " done"
  end):delegate_to({ tags = { pool = "p" } }):timeout("90s")
end
local t1 = step("t1")
local t2 = step("t2"):depends_on({ "t1" })
local t3 = step("t3", true):depends_on({ "t2" })
local t4 = step("t4"):depends_on({ "t3" })
local t5 = step("t5"):depends_on({ "t3" })
workflow.define("chain"):tasks({ t1, t2, t3, t4, t5 })
"""


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[HaCluster]:
    with ha_cluster(tmp_path) as c:
        yield c


def test_one_leader_and_status(ha: HaCluster) -> None:
    masters = ha.start_masters()
    leader = ha.leader()
    done = ha.cli("master", "status", "--master", masters)
    assert done.returncode == 0, done.stderr
    assert f"leader:   {leader}" in done.stdout
    assert done.stdout.count("standby:") == 2
    status = ha.cli_json("master", "status", "--master", masters, "--json")
    assert status["epoch"] == 1 and status["leader"]["address"] == leader


def test_leader_killed_mid_run_new_leader_finishes_it(ha: HaCluster) -> None:
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
    killed_at = time.monotonic()
    ha.kill(ha.masters[old], signal.SIGKILL)
    new = wait_for(lambda: (leader := ha.leader()) != old and leader, timeout=20, what="a new leader")
    took = time.monotonic() - killed_at
    (ha.root / "gate").write_text("open")
    with ha.client() as client:
        result = list(client.follow_run(run_id, reconnect_for=30.0))[-1]
        status = client.ha_status()
    assert result.status.value == "success", ha.logs()
    assert sorted(steps.read_text().split()) == ["t1", "t2", "t3", "t4", "t5"]  # each once
    assert status["epoch"] == 2 and status["leader"]["address"] == new
    assert took < 10, f"new leader after {took:.1f}s"
