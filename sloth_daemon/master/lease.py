"""The leader lease of several masters on one PostgreSQL database (`master --ha`).

One row of `master_lease` names the leader, its address and its epoch; times are the
database's clock, so masters on hosts with skewed clocks agree. A standby takes the row only
when it has expired, raising the epoch; the leader renews it every third of the TTL. The
leader also keeps a deadline on its own monotonic clock (the moment it sent its last
successful renewal plus the TTL, never later than the database's expiry): past it, it does not
dispatch, even before it learns that another master took over (a paused process wakes up past
its deadline). Its writes carry the epoch (`sloth.epoch`, see sloth_engine.store.ha_schema),
so the database refuses those of a leader that was replaced.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sloth_engine.errors import StoreError
from sloth_engine.store.leases import LeaseRows
from sloth_engine.store.retry import trouble

log = logging.getLogger(__name__)


class Role(enum.Enum):
    STANDBY = "standby"
    STARTING = "starting"
    """Holds the lease, resuming runs; not serving writes yet."""
    LEADER = "leader"
    DEPOSED = "deposed"


class LeaderElection:
    """Campaigns for the lease, renews it, and tells the master when it leads or was deposed."""

    def __init__(
        self,
        rows: LeaseRows,
        node: str,
        address: str,
        ttl: float,
        on_elected: Callable[[int], Awaitable[None]],
        on_deposed: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rows = rows
        self.node = node
        self.address = address
        self.ttl = ttl
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.clock = clock
        self.role = Role.STANDBY
        self.epoch: int | None = None
        self.leader_address = ""
        self.valid_until = 0.0
        self.started_at = time.time()
        self._elected: asyncio.Task[None] | None = None
        self.patient = False
        """A single master (no --ha): its lease running out stops its dispatching until it
        renews it; only finding the lease taken deposes it (store_owner.py)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    def may_dispatch(self) -> bool:
        """Whether this master may place work now (it leads and its lease has not run out)."""
        return self.role in (Role.STARTING, Role.LEADER) and self.clock() < self.valid_until

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while self.role is not Role.DEPOSED:
            sent_at = self.clock()
            try:
                await asyncio.wait_for(asyncio.to_thread(self._step, sent_at), self.ttl / 3)
            except (StoreError, TimeoutError) as exc:
                trouble(log, "lease", str(exc) or f"the database did not answer within {self.ttl / 3:g}s")
            if self.epoch is not None and self.clock() >= self.valid_until and not self.patient:
                self._depose("the lease ran out (database unreachable or process paused)")
                return
            await asyncio.sleep(self.ttl / 3 if self.epoch is not None else self.ttl / 6)

    def _step(self, sent_at: float) -> None:
        """One look at the lease (in a thread): renew, or take it when free, or note the leader."""
        if self.epoch is not None:
            if self.rows.renew(self.node, self.epoch, self.ttl, self.address):
                self.valid_until = sent_at + self.ttl
            elif self.patient and self.rows.current() is None:
                # The lease row is gone (the schema was recreated): nobody took it, take it again.
                epoch = self.rows.try_acquire(self.node, self.address, self.ttl)
                if epoch is not None:
                    self.rows.fence(epoch)
                    self.epoch, self.valid_until = epoch, sent_at + self.ttl
            else:
                self._loop_call(self._depose, "another master took the lease")
            self.rows.seen(self.node, self.address, self.started_at)
            return
        epoch = self.rows.try_acquire(self.node, self.address, self.ttl)
        self.rows.seen(self.node, self.address, self.started_at)
        if epoch is None:
            lease = self.rows.current()
            self.leader_address = lease.address if lease is not None and lease.live else ""
            return
        self.rows.fence(epoch)
        self.epoch, self.valid_until, self.leader_address = epoch, sent_at + self.ttl, self.address
        self._loop_call(self._elect, epoch)

    def _loop_call(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def _elect(self, epoch: int) -> None:
        if self.role is Role.DEPOSED:
            return
        log.warning("leader with epoch %d: resuming runs in flight", epoch)
        self.role = Role.STARTING
        self._elected = asyncio.create_task(self._lead(epoch))

    async def _lead(self, epoch: int) -> None:
        await self.on_elected(epoch)
        if self.role is Role.STARTING:
            self.role = Role.LEADER
            log.warning("leading (epoch %d)", epoch)

    def _depose(self, why: str) -> None:
        if self.role is Role.DEPOSED:
            return
        self.role = Role.DEPOSED
        log.error("deposed (epoch %s): %s; no more dispatching", self.epoch, why)
        self.on_deposed(why)

    def release(self) -> None:
        """Hand the lease back at a clean stop (a standby takes over at once)."""
        if self.epoch is not None and self.role is not Role.DEPOSED:
            try:
                self.rows.release(self.node, self.epoch)
            except StoreError as exc:
                log.warning("cannot release the lease: %s", exc)

    def status(self) -> dict[str, Any]:
        """Leader, standbys, epoch and since when, for `master status`."""
        lease = self.rows.current()
        nodes = self.rows.nodes(max(3 * self.ttl, 5.0))
        leader = None
        if lease is not None and lease.live:
            leader = {
                "node": lease.holder,
                "address": lease.address,
                "epoch": lease.epoch,
                "since": lease.since,
            }
            leader["expires_in"] = round(lease.expires_at - lease.now, 3)
        standbys = [n for n in nodes if leader is None or n["node"] != leader["node"]]
        return {
            "this": {"node": self.node, "address": self.address, "role": self.role.value},
            "leader": leader,
            "epoch": lease.epoch if lease is not None else 0,
            "standbys": standbys,
        }
