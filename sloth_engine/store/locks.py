"""Locks as leases: a grant lasts `ttl` seconds unless renewed, and carries a fencing token.

Every grant takes the next value of the store-wide `lock_fencing` counter in the same
transaction that writes the lock row, and all grants queue on that counter row, so tokens
strictly increase in the order grants commit, across locks, threads, processes and (on
PostgreSQL) machines. A lease whose expiry has passed is free: any holder may take it, and its
old holder can neither renew nor rely on it. Locks are not reentrant: a second `lock` by the
same holder waits like anyone else.

Waiting: the waiters of one process queue per lock name (first come, first served) and only
the first polls the store, with jittered backoff (2 ms growing to 50 ms, never past the current
lease's expiry); a release in this process wakes that first waiter at once. Waiters in other
processes find out at their next poll.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sloth_engine.errors import LockHeld, StoreError, TaskCancelled, UsageError
from sloth_engine.store.backend import Backend, Rollback

FIRST_POLL_S = 0.002
MAX_POLL_S = 0.05

KEEPER_TICK_S = 0.25
"""How often a LeaseKeeper looks at its stop check (it renews every ttl/3)."""

StopCheck = Callable[[], str | None] | None
"""Called between polls: a reason to give up waiting (task timeout, cancel) or None."""

_COLUMNS = "name, holder, token, acquired_at, expires_at, reason"
_SELECT = f"SELECT {_COLUMNS} FROM {{table}} WHERE name = ?"
_NEXT_TOKEN = "UPDATE lock_fencing SET value = value + 1 WHERE id = 1 RETURNING value"
_GRANT = (
    f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
    "holder = excluded.holder, token = excluded.token, acquired_at = excluded.acquired_at, "
    "expires_at = excluded.expires_at, reason = excluded.reason"
)
_GRANT_IN_ONE = (  # with row locks: take a token and grant in one statement, if free
    "WITH t AS (UPDATE lock_fencing SET value = value + 1 WHERE id = 1 RETURNING value) "
    f"INSERT INTO {{table}} ({_COLUMNS}) SELECT ?, ?, t.value, ?, ?, ? FROM t "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, "
    "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, reason = excluded.reason "
    "WHERE {table}.expires_at <= ? RETURNING token"
)
_RENEW = (
    "UPDATE {table} SET expires_at = ? WHERE name = ? AND token = ? AND expires_at > ? "
    "RETURNING holder, token, expires_at"
)


class LockGrant(NamedTuple):
    """A lease obtained: `token` is the fencing token to hand to guarded resources."""

    name: str
    holder: str
    token: int
    expires_at: float


class LockInfo(NamedTuple):
    """A lock as stored."""

    name: str
    holder: str
    token: int
    acquired_at: float
    expires_at: float
    reason: str


class LockTable:
    """The leases of one table: `locks` (state locks) or another of the same shape (`stack_locks`)."""

    def __init__(
        self, backend: Backend, clock: Callable[[], float] = time.time, table: str = "locks"
    ) -> None:
        self._b = backend
        self._clock = clock
        self._table = table

        def sql(text: str) -> str:
            return backend.sql(text.replace("{table}", table))

        self._select_sql = sql(_SELECT)
        self._next_token_sql = sql(_NEXT_TOKEN)
        self._grant_sql = sql(_GRANT)
        self._grant_in_one_sql = sql(_GRANT_IN_ONE)
        self._renew_sql = sql(_RENEW)
        self._queue_lock = threading.Lock()
        self._queues: dict[str, deque[threading.Event]] = {}
        """This process's waiters per lock name; the first one's event is set on a release."""

    def lock(
        self, name: str, holder: str, ttl: float, wait: float, reason: str, stop: StopCheck = None
    ) -> LockGrant:
        """Poll until granted; LockHeld after `wait`, TaskCancelled when `stop()` gives a reason.

        Waiters of this process queue per lock name and only the first one polls, so a
        release here hands the lock to the longest waiter at once.
        """
        if not self._queues.get(name):  # else queue behind this process's earlier waiters
            outcome = self.try_lock(name, holder, ttl, reason)
            if isinstance(outcome, LockGrant):
                return outcome
            if wait <= 0:
                raise LockHeld(name, outcome.holder, outcome.acquired_at, outcome.reason)
        deadline = time.monotonic() + wait
        turn = threading.Event()
        with self._queue_lock:
            queue = self._queues.setdefault(name, deque())
            queue.append(turn)
            if queue[0] is turn:
                turn.set()
        try:
            return self._wait_turn(name, holder, ttl, reason, stop, deadline, turn)
        finally:
            with self._queue_lock:
                queue = self._queues[name]
                queue.remove(turn)
                if queue:
                    queue[0].set()
                else:
                    del self._queues[name]

    def _wait_turn(
        self,
        name: str,
        holder: str,
        ttl: float,
        reason: str,
        stop: StopCheck,
        deadline: float,
        turn: threading.Event,
    ) -> LockGrant:
        """Wait to be first in this process's queue for `name`, then poll the store."""
        delay = FIRST_POLL_S
        while not turn.wait(min(max(deadline - time.monotonic(), 0.0), KEEPER_TICK_S)):
            if stop is not None and (why := stop()):
                raise TaskCancelled(why)
            if time.monotonic() >= deadline:
                current = self.info(name)
                raise LockHeld(name, current.holder if current else "earlier waiters in this process")
        while True:
            turn.clear()
            outcome = self.try_lock(name, holder, ttl, reason)
            if isinstance(outcome, LockGrant):
                return outcome
            if stop is not None and (why := stop()):
                raise TaskCancelled(why)
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockHeld(name, outcome.holder, outcome.acquired_at, outcome.reason)
            until_expiry = max(outcome.expires_at - self._clock(), 0.0)
            turn.wait(min(delay * (0.75 + random.random() / 2), left, until_expiry + 0.0005))
            delay = min(delay * 1.5, MAX_POLL_S)

    @contextmanager
    def hold(
        self, name: str, holder: str, ttl: float, wait: float, reason: str, stop: StopCheck = None
    ) -> Iterator[LockGrant]:
        """Hold `name` for the body: renewed every ttl/3 by a thread, released at the end."""
        keeper = LeaseKeeper(self, self.lock(name, holder, ttl, wait, reason, stop), ttl)
        try:
            yield keeper.grant
        finally:
            keeper.release()

    def try_lock(self, name: str, holder: str, ttl: float, reason: str) -> LockGrant | LockInfo:
        """One attempt: the grant, or who holds the lock now."""
        if not name or not holder:
            raise UsageError("a lock needs a name and a holder")
        while True:
            current = self._live(self._b.query_one(self._select_sql, (name,)))
            if current is not None:
                return current
            grant = self._grant(name, holder, ttl, reason)
            if grant is not None:
                return grant
            # Someone was granted it between our read and our attempt: report them.

    def _grant(self, name: str, holder: str, ttl: float, reason: str) -> LockGrant | None:
        """Grant `name` if it is free now. Every grant queues on the lock_fencing row."""
        now = self._clock()
        expires = now + ttl
        if self._b.row_locks:
            params = (name, holder, now, expires, reason, now)
            rows = self._b.write(self._grant_in_one_sql, params)
            return LockGrant(name, holder, int(rows[0][0]), expires) if rows else None
        grant: LockGrant | None = None
        with self._b.transaction():
            token = next(iter(self._b.write(self._next_token_sql)), None)
            if token is None:
                raise UsageError("the lock_fencing counter is missing: the store is not migrated")
            if self._live(self._b.query_one(self._select_sql, (name,))) is not None:
                raise Rollback
            now = self._clock()
            expires = now + ttl
            self._b.execute(self._grant_sql, (name, holder, int(token[0]), now, expires, reason))
            grant = LockGrant(name, holder, int(token[0]), expires)
        return grant

    def renew(self, name: str, token: int, ttl: float) -> LockGrant | None:
        now = self._clock()
        rows = self._b.write(self._renew_sql, (now + ttl, name, int(token), now))
        if not rows:
            return None
        holder, token, expires_at = rows[0]
        return LockGrant(name, holder, int(token), expires_at)

    def unlock(self, name: str, owner: str | int | None, force: bool) -> bool:
        params: tuple[Any, ...]
        if force:
            sql, params = f"DELETE FROM {self._table} WHERE name = ? RETURNING 1", (name,)
        elif isinstance(owner, int) and not isinstance(owner, bool):
            sql = f"DELETE FROM {self._table} WHERE name = ? AND token = ? RETURNING 1"
            params = (name, owner)
        elif isinstance(owner, str) and owner:
            sql = f"DELETE FROM {self._table} WHERE name = ? AND holder = ? RETURNING 1"
            params = (name, owner)
        else:
            raise UsageError(f"unlock '{name}' needs the holder or the token (or force)")
        released = bool(self._b.write(self._b.sql(sql), params))
        if released:
            with self._queue_lock:
                queue = self._queues.get(name)
                if queue:
                    queue[0].set()
        return released

    def info(self, name: str) -> LockInfo | None:
        return self._live(self._b.query_one(self._select_sql, (name,)))

    def list(self) -> list[LockInfo]:
        rows = self._b.query_all(
            self._b.sql(f"SELECT {_COLUMNS} FROM {self._table} WHERE expires_at > ?"), (self._clock(),)
        )
        return sorted((_info(r) for r in rows), key=lambda i: i.name)

    def _live(self, row: tuple | None) -> LockInfo | None:
        if row is None or row[4] <= self._clock():
            return None
        return _info(row)


class LeaseKeeper:
    """Keeps a grant alive from a daemon thread (renewing every ttl/3) until `release()`.

    If `stop()` reports a reason (the task holding it timed out or was cancelled, so it will
    never call release), the keeper releases the lock itself.
    """

    def __init__(self, table: LockTable, grant: LockGrant, ttl: float, stop: StopCheck = None) -> None:
        self.grant = grant
        self._table, self._ttl, self._stop_check = table, ttl, stop
        self._stopped = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._run, name=f"lease {grant.name}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def release(self) -> bool:
        """Stop renewing and unlock; False if the lease had been lost meanwhile."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        return self._table.unlock(self.grant.name, self.grant.token, False)

    def _run(self) -> None:
        tick = min(self._ttl / 3, KEEPER_TICK_S)
        renewed_at = time.monotonic()
        while not self._stopped.wait(tick):
            if self._stop_check is not None and self._stop_check():
                self._stopped.set()
                with contextlib.suppress(StoreError):  # else the lease runs out at its ttl
                    self._table.unlock(self.grant.name, self.grant.token, False)
                return
            if time.monotonic() - renewed_at < self._ttl / 3:
                continue
            try:
                renewed = self._table.renew(self.grant.name, self.grant.token, self._ttl)
            except StoreError:
                continue  # a transient failure: the lease still has two thirds left
            if renewed is None:
                self.lost = True
                return
            renewed_at = time.monotonic()


def _info(row: tuple) -> LockInfo:
    name, holder, token, acquired_at, expires_at, reason = row
    return LockInfo(name, holder, int(token), acquired_at, expires_at, reason or "")
