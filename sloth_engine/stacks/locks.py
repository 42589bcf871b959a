"""Stack locks: leases in `stack_locks` (store.locks.LockTable: fencing tokens, waits, expiry).

A lock taken from the command line without a ttl lasts until it is released. A run of a
workflow with `require_lock = true` holds a 60 s lease renewed by a keeper thread, so a killed
run frees its stack within a minute. Acquiring a held lock fails at once with StackLocked
(holder, reason, since), unless the caller chose to wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sloth_engine.durations import parse_duration
from sloth_engine.errors import LockHeld, StackLocked, UsageError
from sloth_engine.store.locks import LeaseKeeper, LockGrant, LockInfo
from sloth_engine.store.stack_records import FOREVER
from sloth_engine.store.stacks import StackCatalog

RUN_LEASE_S = 60.0
"""A run's lease: renewed every third of it while the run goes on."""


def seconds(value: float | str | None, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


class StackLocks:
    def __init__(self, catalog: StackCatalog, clock: Callable[[], float] = time.time) -> None:
        self.catalog = catalog
        self.clock = clock
        self.table = catalog.store.stack_lock_table(clock)

    def acquire(
        self,
        stack: str,
        holder: str,
        reason: str = "",
        ttl: float | str | None = None,
        wait: float | str | None = None,
        run_id: str | None = None,
    ) -> LockGrant:
        """Take the stack's lock; StackLocked naming the holder when it is held."""
        if not holder:
            raise UsageError("a stack lock needs a holder (--locked-by)")
        lease = seconds(ttl, "--ttl")
        if lease is not None and lease <= 0:
            raise UsageError("--ttl must be positive")
        lease = lease if lease is not None else FOREVER - self.clock()
        try:
            grant = self.table.lock(stack, holder, lease, seconds(wait, "--wait") or 0.0, reason)
        except LockHeld as exc:
            current = self.table.info(stack)
            if current is not None:
                raise StackLocked(stack, current.holder, current.acquired_at, current.reason) from None
            raise StackLocked(stack, exc.holder, exc.since, exc.reason) from None
        data = {
            "holder": holder,
            "reason": reason,
            "token": grant.token,
            "expires_at": _expiry(grant.expires_at),
        }
        self.catalog.emit("lock.acquired", stack, data, run_id)
        return grant

    def status(self, stack: str) -> LockInfo | None:
        return self.table.info(stack)

    def release(self, stack: str, holder: str | int, run_id: str | None = None) -> bool:
        """Release as `holder` (a name, or the grant's token); False if it did not hold the lock."""
        released = self.table.unlock(stack, holder, force=False)
        if released:
            who = holder if isinstance(holder, str) else f"token {holder}"
            self.catalog.emit("lock.released", stack, {"holder": who}, run_id)
        return released

    def force_release(self, stack: str, by: str, reason: str = "") -> LockInfo | None:
        """Release whoever holds it; the lock that was released, or None if it was free."""
        current = self.table.info(stack)
        if current is None or not self.table.unlock(stack, None, force=True):
            return None
        data = {"holder": current.holder, "held_reason": current.reason, "by": by, "reason": reason}
        self.catalog.emit("lock.force_released", stack, data, severity="warning")
        return current

    def hold_for_run(self, stack: str, run_id: str, holder: str, reason: str) -> LeaseKeeper:
        """The lock of a run, renewed until the keeper's release(); StackLocked when held."""
        grant = self.acquire(stack, holder, reason, RUN_LEASE_S, None, run_id)
        return LeaseKeeper(self.table, grant, RUN_LEASE_S)

    def release_run(self, stack: str, keeper: LeaseKeeper, run_id: str) -> None:
        if keeper.release():
            self.catalog.emit("lock.released", stack, {"holder": keeper.grant.holder}, run_id)

    def require_free(self, stack: str, holder: str | None = None) -> None:
        current = self.status(stack)
        if current is not None and current.holder != holder:
            raise StackLocked(stack, current.holder, current.acquired_at, current.reason)


def _expiry(expires_at: float) -> float | None:
    return None if expires_at >= FOREVER - 1 else expires_at


def lock_dict(info: LockInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "holder": info.holder,
        "reason": info.reason,
        "token": info.token,
        "acquired_at": info.acquired_at,
        "expires_at": _expiry(info.expires_at),
    }
