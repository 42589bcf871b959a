"""Three `sloth-daemon master --ha` processes on one fresh PostgreSQL schema, for the HA tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import STORE_PG_URL, _store_pg_admin
from distributed_cluster import Cluster, wait_for

TTL = "1.5s"


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

    def status_from(self, address: str) -> dict[str, Any]:
        from sloth_daemon.client import MasterClient

        with MasterClient(address, timeout=5.0) as client:
            return client.ha_status()


@contextmanager
def ha_cluster(root: Path) -> Iterator[HaCluster]:
    """A cluster on a new schema of the test PostgreSQL server, dropped afterwards."""
    schema = f"sloth_ha_{uuid.uuid4().hex[:12]}"
    admin = _store_pg_admin()
    c = HaCluster(root, f"{STORE_PG_URL}?schema={schema}")
    try:
        yield c
    finally:
        c.close()
        with admin.cursor() as cur:
            cur.execute("SET lock_timeout = '20s'")
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
