"""HA: failover time and the cost of `master --ha` on D1 throughput, on the PostgreSQL server.

Failover = from the SIGKILL of the leader to the first task dispatched by the new leader (a
chain of short delegated tasks runs meanwhile; the first attempt started after the kill, in
the store). Target: under 5 s (it is bounded by --lease-ttl plus the standby's polling).
Cost = D1 (1000 no-op tasks over 4 agents) on one master on PostgreSQL, without and with --ha
(the leader's writes then pass the epoch fence trigger).

    .venv/bin/python benchmarks/bench_ha.py [--ttl 2s] [--repeat 3] [--tasks 1000]
"""

from __future__ import annotations

import argparse
import os
import signal
import time
import uuid

from bench_d1 import WORKFLOW as D1
from bench_d_common import Cluster, median, run_once

PG = os.environ.get("SLOTH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CHAIN = """
local tasks, previous = {}, nil
for i = 1, 400 do
  local t = task("c" .. i):command(function() time.sleep(0.02) return true end):delegate_to({ any = true })
  if previous then t = t:depends_on({ previous }) end
  tasks[#tasks + 1] = t
  previous = "c" .. i
end
workflow.define("chain"):tasks(tasks)
"""


class PgCluster(Cluster):
    def __init__(self, ha: bool, ttl: str = "2s") -> None:
        super().__init__()
        self.schema = f"sloth_bench_{uuid.uuid4().hex[:10]}"
        self.db = f"{PG}?schema={self.schema}"
        self.ha, self.ttl = ha, ttl
        self.masters: dict[str, object] = {}

    def env(self) -> dict[str, str]:
        return {**super().env(), "SLOTH_DB": self.db}

    def start_masters(self, n: int) -> None:
        for i in range(n):
            ready = self.root / f"master{i}.ready"
            args = ["master", "--listen", "127.0.0.1:0", "--ready-file", str(ready), "--startup-grace", "3s"]
            if self.ha:
                args += ["--ha", "--lease-ttl", self.ttl]
            proc = self._spawn(*args)
            self.masters[self._wait(ready)] = proc
        self.address = ",".join(self.masters)

    def start_agents(self, n: int, max_tasks: int = 16) -> None:
        for i in range(n):
            self._spawn(
                "agent", "--master", self.address, "--name", f"bench{i}", "--max-tasks", str(max_tasks),
                "--heartbeat", "1s", "--reconnect-max", "0.5s", "--ready-file", str(self.root / f"a{i}.ready"),
            )  # fmt: skip
        for i in range(n):
            self._wait(self.root / f"a{i}.ready")

    def close(self) -> None:
        super().close()
        import psycopg2

        conn = psycopg2.connect(PG)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        conn.close()


def failover_once(ttl: str) -> float:
    from sloth_engine.store import open_store

    cluster = PgCluster(ha=True, ttl=ttl)
    try:
        cluster.start_masters(3)
        cluster.start_agents(2)
        path = cluster.write("chain.sloth", CHAIN)
        with cluster.client() as client:
            run_id = client.submit_run(str(path), path.read_text())[0].run_id
            time.sleep(1.5)
            leader = client.ha_status()["leader"]["address"]
        killed_at = time.time()
        cluster.masters[leader].send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
        with open_store(cluster.db) as store:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                starts = [
                    t["started_at"]
                    for t in store.runs.get_run(run_id)["tasks"]
                    if t.get("started_at") and t["started_at"] > killed_at
                ]
                if starts:
                    return min(starts) - killed_at
                time.sleep(0.02)
        raise SystemExit(
            "no task dispatched after the failover: " + (cluster.root / "daemons.log").read_text()
        )
    finally:
        cluster.close()


def d1(ha: bool, tasks: int, repeat: int) -> float:
    cluster = PgCluster(ha=ha)
    try:
        cluster.start_masters(2 if ha else 1)
        cluster.start_agents(4)
        path = cluster.write("d1.sloth", D1 % {"n": tasks, "parallel": 64})
        with cluster.client() as client:
            run_once(client, path)
            walls = []
            for _ in range(repeat):
                wall, result = run_once(client, path)
                assert result.status.value == "success", result.error
                walls.append(wall)
        return tasks / median(walls)
    finally:
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ttl", default="2s")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    times = [failover_once(args.ttl) for _ in range(args.repeat)]
    print(f"HA failover, lease TTL {args.ttl}: leader SIGKILL -> first task dispatched by the new leader")
    print(f"  median {median(times):.2f}s, max {max(times):.2f}s (target < 5 s); runs: "
          + ", ".join(f"{t:.2f}" for t in times))  # fmt: skip
    plain, ha = d1(False, args.tasks, args.repeat), d1(True, args.tasks, args.repeat)
    print(f"D1 on PostgreSQL ({args.tasks} no-op tasks, 4 agents, median of {args.repeat})")
    print(f"  one master: {plain:,.0f} tasks/s; --ha leader (+1 standby): {ha:,.0f} tasks/s "
          f"({(ha / plain - 1) * 100:+.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
