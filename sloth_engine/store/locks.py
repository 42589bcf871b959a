"""Locks as leases: a grant lasts `ttl` seconds unless renewed, and carries a fencing token.

Every grant takes the next value of the store-wide `lock_fencing` counter in the same
transaction that writes the lock row, and all grants queue on that counter row, so tokens
strictly increase in the order grants commit, across locks, threads, processes and (on
PostgreSQL) machines. A lease whose expiry has passed is free: any holder may take it, and its
old holder can neither renew nor rely on it. Locks are not reentrant: a second `lock` by the
same holder waits like anyone else.

Waiting on a SQLite file: every waiter of every process stands in one line per lock
(lock_line: a FIFO per waiter beside the database); only the first asks the store, a release
wakes it at once, and the lock goes in arrival order (no polling; a waiter asks again on its
own only when the lease expires, or every 0.25 s if no wake-up came). Elsewhere the waiters of
one process queue per lock name (first come, first served) and only the first polls the store,
with jittered backoff (2 ms growing to 50 ms, never past the current lease's expiry); a release
in this process wakes that first waiter at once.
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
from sloth_engine.store.lock_line import FALLBACK_S, Line, Place, lines_folder
from sloth_engine.store.lock_line_pg import PgLine

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
_LINE_CLEAR = "WHERE pg_try_advisory_xact_lock(?) "
"""Added to a newcomer's grant on PostgreSQL: refused while a waiter stands in the line."""
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
        self._grant_behind_line_sql = sql(_GRANT_IN_ONE.replace(" FROM t ", " FROM t " + _LINE_CLEAR))
        self._renew_sql = sql(_RENEW)
        self._line = _line_for(backend, table)
        """Where waiters stand across processes (SQLite files); None: they poll."""
        self._pg_line = PgLine(backend, table) if backend.kind == "postgresql" else None
        """Where the first waiter of each process stands on PostgreSQL (LISTEN/NOTIFY)."""
        self._queue_lock = threading.Lock()
        self._queues: dict[str, deque[threading.Event]] = {}
        """This process's waiters per lock name; the first one's event is set on a release."""

    def lock(
        self, name: str, holder: str, ttl: float, wait: float, reason: str, stop: StopCheck = None
    ) -> LockGrant:
        """Wait until granted; LockHeld after `wait`, TaskCancelled when `stop()` gives a reason.

        The waiters of this process queue per lock name (first come, first served) and only
        the first one waits on the store: standing in the line of every process's first
        waiters (lock_line on a SQLite file, lock_line_pg on PostgreSQL), where a release
        wakes the first at once and the lock goes in arrival order; on other stores it polls.
        """
        if not self._queues.get(name):  # else queue behind this process's earlier waiters
            grant = self._first_try(name, holder, ttl, reason, wait)
            if grant is not None:
                return grant
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

    def waiting_here(self, name: str) -> int:
        """How many threads of this process wait for `name`."""
        with self._queue_lock:
            return len(self._queues.get(name, ()))

    def _first_try(self, name: str, holder: str, ttl: float, reason: str, wait: float) -> LockGrant | None:
        """The grant if the lock is free and nobody stands in its line; None to wait (LockHeld
        when `wait` is not positive: a try jumps the line)."""
        held: LockInfo | None = None
        if self._pg_line is not None:
            grant = self._grant(name, holder, ttl, reason, behind_line=wait > 0)
            if grant is not None:
                return grant
            held = self.info(name) if wait <= 0 else None
        else:
            queued = False
            if wait > 0 and self._line is not None:
                try:
                    queued = self._line.waiting(name)
                except OSError:  # no room for the line (a read-only folder): waiters poll
                    self._line = None
            if not queued:
                outcome = self.try_lock(name, holder, ttl, reason)
                if isinstance(outcome, LockGrant):
                    return outcome
                held = outcome
        if wait <= 0:
            if held is None:
                raise LockHeld(name, "earlier waiters")
            raise LockHeld(name, held.holder, held.acquired_at, held.reason)
        return None

    def _wait_in_line(
        self,
        line: Line,
        place: Place,
        name: str,
        holder: str,
        ttl: float,
        reason: str,
        stop: StopCheck,
        deadline: float,
    ) -> LockGrant:
        """Ask the store whenever first in the line, else sleep until a release wakes us."""
        granted = False
        try:
            while True:
                current: LockInfo | None = None
                nap = FALLBACK_S
                if place.first():
                    place.drain()
                    outcome = self.try_lock(name, holder, ttl, reason)
                    if isinstance(outcome, LockGrant):
                        granted = True
                        return outcome
                    current = outcome
                    nap = min(nap, max(current.expires_at - self._clock(), 0.0) + 0.0005)
                if stop is not None and (why := stop()):
                    raise TaskCancelled(why)
                left = deadline - time.monotonic()
                if left <= 0:
                    current = current or self.info(name)
                    if current is None:
                        raise LockHeld(name, "earlier waiters")
                    raise LockHeld(name, current.holder, current.acquired_at, current.reason)
                place.wait(min(nap, left))
        finally:
            place.leave()
            if not granted:
                with contextlib.suppress(OSError):
                    line.wake(name)  # it may have been this waiter's turn: the next one asks now

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
        if self._pg_line is not None:
            return self._wait_in_pg_line(self._pg_line, name, holder, ttl, reason, stop, deadline)
        if self._line is not None:
            try:
                place = self._line.join(name)
            except OSError:  # no room for the line (a read-only folder): poll
                self._line = None
            else:
                return self._wait_in_line(self._line, place, name, holder, ttl, reason, stop, deadline)
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

    def _wait_in_pg_line(
        self,
        line: PgLine,
        name: str,
        holder: str,
        ttl: float,
        reason: str,
        stop: StopCheck,
        deadline: float,
    ) -> LockGrant:
        """Stand in the PostgreSQL line; once first, ask whenever a release is announced."""
        if not line.stand(name, deadline, stop):
            if stop is not None and (why := stop()):
                raise TaskCancelled(why)
            current = self.info(name)
            if current is None:
                raise LockHeld(name, "earlier waiters")
            raise LockHeld(name, current.holder, current.acquired_at, current.reason)
        try:
            while True:
                line.drain()
                outcome = self.try_lock(name, holder, ttl, reason)
                if isinstance(outcome, LockGrant):
                    return outcome
                if stop is not None and (why := stop()):
                    raise TaskCancelled(why)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockHeld(name, outcome.holder, outcome.acquired_at, outcome.reason)
                until_expiry = max(outcome.expires_at - self._clock(), 0.0) + 0.0005
                line.wait(name, min(FALLBACK_S, left, until_expiry))
        finally:
            line.leave(name)

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

    def _grant(
        self, name: str, holder: str, ttl: float, reason: str, behind_line: bool = False
    ) -> LockGrant | None:
        """Grant `name` if it is free now (and with `behind_line`, on PostgreSQL, if nobody
        stands in its line). Every grant queues on the lock_fencing row."""
        now = self._clock()
        expires = now + ttl
        if self._b.row_locks:
            if behind_line and self._pg_line is not None:
                line_key = self._pg_line.key(name)
                checked = (name, holder, now, expires, reason, line_key, now)
                rows = self._b.write(self._grant_behind_line_sql, checked)
                return LockGrant(name, holder, int(rows[0][0]), expires) if rows else None
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
        if self._pg_line is not None:  # the line's first waiter hears of it at once
            sql = f"WITH gone AS ({sql}) SELECT pg_notify(?, ?) FROM gone"
            params = (*params, self._pg_line.channel, name)
        released = bool(self._b.write(self._b.sql(sql), params))
        if released:
            if self._line is not None:
                with contextlib.suppress(OSError):
                    self._line.wake(name)
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


def _line_for(backend: Backend, table: str) -> Line | None:
    path = getattr(backend, "path", None)
    if backend.kind != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Line(lines_folder(path), table)


def _info(row: tuple) -> LockInfo:
    name, holder, token, acquired_at, expires_at, reason = row
    return LockInfo(name, holder, int(token), acquired_at, expires_at, reason or "")
