"""Several masters on one PostgreSQL database (`master --ha`): three master processes and two
agents on 127.0.0.1, the leader killed or paused mid-run."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import STORE_PG_URL, _store_pg_admin
from distributed_cluster import Cluster, wait_for

pytestmark = pytest.mark.postgres

TTL = "1.5s"

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


class HaCluster(Cluster):
    """Three `master --ha` processes and agents that know them all."""

    def __init__(self, root: Path, db: str) -> None:
        super().__init__(root)
        self.db = db
        self.masters: dict[str, Any] = {}

    def start_masters(self, n: int = 3) -> str:
        for _ in range(n):
            address = self.start_master("127.0.0.1:0", "--ha", "--lease-ttl", TTL, "--startup-grace", "3s")
            assert self.master_proc is not None
            self.masters[address] = self.master_proc
        self.address = ",".join(self.masters)
        return self.address

    def leader(self) -> str:
        with self.client() as client:
            status = wait_for(lambda: (s := client.ha_status())["leader"] and s, what="a leader")
        return status["leader"]["address"]


@pytest.fixture
def pg_url() -> Iterator[str]:
    schema = f"sloth_ha_{uuid.uuid4().hex[:12]}"
    admin = _store_pg_admin()
    try:
        yield f"{STORE_PG_URL}?schema={schema}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SET lock_timeout = '20s'")
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def ha(tmp_path: Path, pg_url: str) -> Iterator[HaCluster]:
    c = HaCluster(tmp_path, pg_url)
    try:
        yield c
    finally:
        c.close()


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
