"""The store's word is final, with a real master on PostgreSQL: terminating the master's (and
its task's) connections mid-run leaves the run succeeding with its command not killed; an
empty database is refused clearly, and `sysadmin init-store` creates the schema."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import STORE_PG_URL, _store_pg_admin
from distributed_cluster import Cluster, wait_for

pytestmark = pytest.mark.postgres

WORK = """
local work = task("work"):command(function(this, params)
  fs.append(params.dir .. "/side.log", "start\\n")
  state.set("before", 1)
  while not fs.exists(params.dir .. "/gate") do time.sleep(0.05) end
  state.set("after", 2)
  fs.append(params.dir .. "/side.log", "end\\n")
  return true, "worked"
end):timeout("120s")
local next_one = task("next"):depends_on({ "work" }):command("echo next")
workflow.define("blip"):tasks({ work, next_one })
"""


@pytest.fixture
def pg_cluster(tmp_path):
    schema = f"sloth_test_{uuid.uuid4().hex[:12]}"
    c = Cluster(tmp_path)
    c.db = f"{STORE_PG_URL}?schema={schema}"
    admin = _store_pg_admin()
    try:
        yield c, admin
    finally:
        (tmp_path / "gate").write_text("")
        c.close()
        with admin.cursor() as cur:
            cur.execute("SET lock_timeout = '20s'")
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def _terminate(admin, pids: list[int]) -> int:
    """pg_terminate_backend of these processes' connections (only ours: the database is shared)."""
    names = [f"sloth pid {p}" for p in pids]
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'test' "
            "AND pid <> pg_backend_pid() AND application_name = ANY(%s)",
            (names,),
        )
        return len(cur.fetchall())


def test_terminating_the_postgresql_connections_mid_run_leaves_the_run_succeeding(pg_cluster) -> None:
    cluster, admin = pg_cluster
    cluster.start_master()
    path = cluster.write("blip.sloth", WORK)
    with cluster.client() as client:
        run_id = client.submit_run(str(path), WORK, params={"dir": str(cluster.root)})[0].run_id
    side = cluster.root / "side.log"
    wait_for(lambda: side.exists() and side.read_text() == "start\n", 30, "the task to start")
    child = next((cluster.home / "master" / "host" / run_id).glob("work-*/1/child.json"))
    pids = [cluster.master_proc.pid, json.loads(child.read_text())["pid"]]
    assert _terminate(admin, pids) >= 2  # the master's and the task's own
    (cluster.root / "gate").write_text("")
    with cluster.store() as store:
        run = wait_for(
            lambda: (r := store.runs.get_run(run_id))["finished_at"] is not None and r, 60, "the run to end"
        )
        assert run["status"] == "success", cluster.logs()
        assert {(t["task"], t["attempt"], t["status"]) for t in run["tasks"]} == {
            ("work", 1, "success"),
            ("next", 1, "success"),
        }
        assert store.state.get("default", "after") == 2
    assert side.read_text() == "start\nend\n"  # its command was not killed, nor run again
    assert "Traceback" not in (cluster.root / "master.log").read_text()


def test_a_schema_dropped_under_a_master_gives_a_clear_message_and_init_store_recreates_it(
    pg_cluster,
) -> None:
    cluster, admin = pg_cluster
    cluster.start_master()
    schema = cluster.db.rsplit("schema=", 1)[1]
    with admin.cursor() as cur:  # dropped and recreated empty under the running master
        cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
        cur.execute(f'CREATE SCHEMA "{schema}"')
    path = cluster.write("blip.sloth", WORK)
    done = cluster.cli("run", str(path), "--master", cluster.address, "-p", f"dir={cluster.root}")
    assert done.returncode != 0
    assert "no Sloth Runner schema" in done.stderr and "sysadmin init-store" in done.stderr, done.stderr
    assert "ProgrammingError" not in done.stderr and "Traceback" not in done.stderr
    init = cluster.cli("sysadmin", "init-store")
    assert init.returncode == 0, init.stderr
    assert "ready" in init.stdout
    with cluster.store() as store:
        assert store.runs.list_runs() == []
    assert cluster.master_proc is not None and cluster.master_proc.poll() is None  # still serving

    def submitted() -> bool:  # once it took the new schema's lease again (a few seconds)
        args = ("run", str(path), "--master", cluster.address, "-p", f"dir={cluster.root}", "--detach")
        return cluster.cli(*args).returncode == 0

    wait_for(submitted, 30, "the master to serve on the new schema", every=1.0)


def test_a_store_that_stays_down_gives_one_line_per_interval_not_tracebacks(tmp_path) -> None:
    """The master's role locked out for a while: a few clear lines, no traceback; then it serves."""
    role = f"sloth_lockout_{uuid.uuid4().hex[:8]}"
    schema = f"sloth_test_{uuid.uuid4().hex[:12]}"
    admin = _store_pg_admin()
    with admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{role}" LOGIN')
        cur.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
        cur.execute(f'GRANT CREATE ON DATABASE test TO "{role}"')  # the migration's IF NOT EXISTS
    base = STORE_PG_URL.replace("postgres@", f"{role}@")
    cluster = Cluster(tmp_path)
    cluster.db = f"{base}?schema={schema}"
    try:
        cluster.start_master("127.0.0.1:0", "--lease-ttl", "3s")
        with admin.cursor() as cur:
            cur.execute(f'ALTER ROLE "{role}" NOLOGIN')
        assert _terminate_role(admin, role) >= 1
        time.sleep(6)  # the store stays down: every loop of the master fails meanwhile
        with admin.cursor() as cur:
            cur.execute(f'ALTER ROLE "{role}" LOGIN')
        log = (tmp_path / "master.log").read_text()
        assert "Traceback" not in log, log[-3000:]
        lines = [line for line in log.splitlines() if "unavailable" in line or "failed" in line]
        assert 1 <= len(lines) <= 12, log[-3000:]  # about one per loop per interval, not 10/s
        path = cluster.write("quick.sloth", 'task("q"):command("echo back")\n')
        done = cluster.cli("run", str(path), "--master", cluster.address)
        assert done.returncode == 0, done.stderr + cluster.logs()
    finally:
        cluster.close()
        with admin.cursor() as cur:
            cur.execute(f'ALTER ROLE "{role}" LOGIN')
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            cur.execute(f'DROP OWNED BY "{role}"')
            cur.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def _terminate_role(admin, role: str) -> int:
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
            (role,),
        )
        return len(cur.fetchall())
