"""The lease masters hold on their store (`master_lease`) and the list of masters (`master_nodes`).

Times are the database's clock (`NOW`) on PostgreSQL, so masters on hosts with skewed clocks
agree; SQLite has one host, whose clock it is. The campaign that uses these rows is
sloth_daemon.master.lease; the single master's claim is sloth_daemon.master.store_owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sloth_engine.store import Store

NOW = "EXTRACT(EPOCH FROM clock_timestamp())::DOUBLE PRECISION"
SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
"""SQLite has no server clock: the one host of a SQLite store is its clock."""
EPOCH_SETTING = "sloth.epoch"
"""The session setting that carries the leader's epoch (see sloth_engine.store.ha_schema)."""


@dataclass(frozen=True)
class Lease:
    holder: str
    address: str
    epoch: int
    since: float
    expires_at: float
    now: float

    @property
    def live(self) -> bool:
        return self.expires_at > self.now


class LeaseRows:
    """The SQL of the lease and of the list of masters (PostgreSQL and SQLite)."""

    def __init__(self, store: Store) -> None:
        self.backend = store.backend
        self._now = NOW if self.backend.kind == "postgresql" else SQLITE_NOW

    def fence(self, epoch: int) -> None:
        """On PostgreSQL, every connection writes as `epoch` from its next statement, so the
        database refuses the writes of a replaced leader (SQLite has a single master)."""
        self.backend.set_session(EPOCH_SETTING, str(epoch))

    def _sql(self, text: str) -> str:
        return self.backend.sql(text.replace("{NOW}", self._now))

    def try_acquire(self, node: str, address: str, ttl: float) -> int | None:
        """Take the lease if nobody holds it; the new epoch, or None."""
        rows = self.backend.write(
            self._sql(
                "INSERT INTO master_lease (id, holder, address, epoch, since, expires_at) "
                "VALUES (1, ?, ?, 1, {NOW}, {NOW} + ?) "
                "ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address, "
                "epoch = master_lease.epoch + 1, since = EXCLUDED.since, expires_at = EXCLUDED.expires_at "
                "WHERE master_lease.expires_at < EXCLUDED.since RETURNING epoch"
            ),
            (node, address, ttl),
        )
        return int(rows[0][0]) if rows else None

    def take_over(self, old: Lease, node: str, address: str, ttl: float) -> int | None:
        """Take the lease from a holder known to be dead (its epoch unchanged); the new epoch."""
        rows = self.backend.write(
            self._sql(
                "UPDATE master_lease SET holder = ?, address = ?, epoch = epoch + 1, since = {NOW}, "
                "expires_at = {NOW} + ? WHERE id = 1 AND holder = ? AND epoch = ? RETURNING epoch"
            ),
            (node, address, ttl, old.holder, old.epoch),
        )
        return int(rows[0][0]) if rows else None

    def renew(self, node: str, epoch: int, ttl: float, address: str | None = None) -> bool:
        rows = self.backend.write(
            self._sql(
                "UPDATE master_lease SET expires_at = {NOW} + ?, address = COALESCE(?, address) "
                "WHERE id = 1 AND holder = ? AND epoch = ? RETURNING epoch"
            ),
            (ttl, address, node, epoch),
        )
        return bool(rows)

    def release(self, node: str, epoch: int) -> None:
        self.backend.write(
            self._sql(
                "UPDATE master_lease SET expires_at = 0 "
                "WHERE id = 1 AND holder = ? AND epoch = ? RETURNING id"
            ),
            (node, epoch),
        )

    def current(self) -> Lease | None:
        row = self.backend.query_one(
            self._sql(
                "SELECT holder, address, epoch, since, expires_at, {NOW} FROM master_lease WHERE id = 1"
            )
        )
        return Lease(row[0], row[1], int(row[2]), row[3], row[4], row[5]) if row else None

    def seen(self, node: str, address: str, started_at: float) -> None:
        self.backend.write(
            self._sql(
                "INSERT INTO master_nodes (node_id, address, started_at, seen_at) VALUES (?, ?, ?, {NOW}) "
                "ON CONFLICT (node_id) DO UPDATE SET address = EXCLUDED.address, seen_at = EXCLUDED.seen_at "
                "RETURNING node_id"
            ),
            (node, address, started_at),
        )

    def nodes(self, within: float) -> list[dict[str, Any]]:
        rows = self.backend.query_all(
            self._sql(
                "SELECT node_id, address, started_at, seen_at FROM master_nodes WHERE seen_at > {NOW} - ? "
                "ORDER BY address"
            ),
            (within,),
        )
        return [{"node": r[0], "address": r[1], "started_at": r[2], "seen_at": r[3]} for r in rows]
