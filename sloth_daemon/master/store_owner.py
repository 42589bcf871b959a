"""One owner per store: a master without `--ha` holds the store's lease, or does not start.

The lease is the row HA masters compete for (`master_lease`, see lease.py), on SQLite as on
PostgreSQL. Its holder names the process: node id, host, pid, start time and boot id, so a
second master is refused with who holds the store, and a master restarted on the same host
after a crash (SIGKILL, OOM) takes the lease of its dead predecessor at once instead of waiting
for it to expire. A single master whose lease runs out (the database unreachable, the process
paused) stops dispatching until it renews it; it exits only when it finds the lease taken.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from sloth_daemon.master.lease import LeaderElection, Role
from sloth_engine.errors import UsageError
from sloth_engine.run_owner import current_owner, owner_gone
from sloth_engine.store import Store
from sloth_engine.store.leases import Lease, LeaseRows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    node: str
    host: str = ""
    pid: int = 0
    started: float = 0.0
    boot: str = ""

    def text(self) -> str:
        return f"{self.node}/{self.host}/{self.pid}/{self.started:.3f}/{self.boot}"

    def describe(self) -> str:
        if not self.pid:
            return f"node {self.node}"
        return f"pid {self.pid} on host {self.host}"

    def gone(self) -> bool:
        """True when the holder surely no longer runs (judged on its own host only)."""
        row = {
            "owner_host": self.host,
            "owner_boot": self.boot,
            "owner_pid": self.pid,
            "owner_started": self.started,
        }
        return owner_gone(row)


def this_holder(node: str) -> Holder:
    me = current_owner()
    return Holder(node, me.host, me.pid, me.started, me.boot)


def parse_holder(text: str) -> Holder:
    """The holder named in a lease row (an HA master's plain node id parses as just that)."""
    parts = text.split("/", 4)
    if len(parts) != 5:
        return Holder(text)
    try:
        return Holder(parts[0], parts[1], int(parts[2]), float(parts[3]), parts[4])
    except ValueError:
        return Holder(text)


def refusal(lease: Lease | None, display: str) -> str:
    """Why a master may not start on a store another master holds."""
    if lease is None:
        return f"the store {display} is held by another master"
    holder = parse_holder(lease.holder)
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease.since))
    left = max(0.0, lease.expires_at - lease.now)
    return (
        f"the store {display} is held by the master at {lease.address or '?'} ({holder.describe()}, "
        f"since {since}, epoch {lease.epoch}); one master owns a store: stop that one first "
        f"(its lease lapses {left:.0f}s after it stops renewing), or run several with --ha on PostgreSQL"
    )


def claim_store(store: Store, node: str, address: str, ttl: float) -> LeaderElection:
    """Take the store's lease for a master without --ha; UsageError naming the holder if taken."""
    rows = LeaseRows(store)
    me = this_holder(node)
    epoch = rows.try_acquire(me.text(), address, ttl)
    if epoch is None:
        lease = rows.current()
        if lease is not None and parse_holder(lease.holder).gone():
            log.warning("taking over the store from a master that is gone (%s)", lease.holder)
            epoch = rows.take_over(lease, me.text(), address, ttl)
        if epoch is None:
            raise UsageError(refusal(rows.current(), store.url))
    rows.fence(epoch)
    keeper = LeaderElection(rows, me.text(), address, ttl, on_elected=_never, on_deposed=_exit_deposed)
    keeper.patient = True
    keeper.epoch, keeper.role, keeper.leader_address = epoch, Role.LEADER, address
    keeper.valid_until = keeper.clock() + ttl
    return keeper


async def _never(epoch: int) -> None:  # pragma: no cover - a claimed lease is never elected
    return None


def _exit_deposed(why: str) -> None:
    """Another master took this store: nothing of this one may go on."""
    log.error("another master took the store (%s): exiting", why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(75)
