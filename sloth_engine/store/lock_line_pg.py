"""The line of waiters for a lock on PostgreSQL, across processes and machines.

A process's first waiter for a lock (its other threads queue behind it in the process) stands
in the line by asking, on a connection of its own, for a session advisory lock keyed by the
lock's name: PostgreSQL queues those requests in arrival order, so holding it means being first
in the line. The first asks for the lease; while the lease is held it sleeps on the same
connection, LISTENing on the table's channel: a release sends NOTIFY (`pg_notify` in the
DELETE's statement), so it wakes at once instead of polling. Once granted it leaves the line
(advisory unlock) and the next waiter becomes first. A newcomer's first grant is refused while
somebody stands in the line (`pg_try_advisory_xact_lock` in the grant), so a holder that asks
again queues behind the waiters. Grants stay decided by the lease rows and their fencing
tokens; a waiter that hears nothing asks again after FALLBACK_S or when the lease expires.
"""

from __future__ import annotations

import contextlib
import hashlib
import select
import threading
import time
from typing import Any

from sloth_engine.store.lock_line import FALLBACK_S


class PgLine:
    """The waiting lines of one lock table of one PostgreSQL store (schema)."""

    def __init__(self, backend: Any, table: str) -> None:
        self._b = backend
        scope = f"{backend.schema or 'public'}.{table}"
        self._seed = scope + ":"
        self.channel = "sloth_locks_" + hashlib.sha1(scope.encode()).hexdigest()[:20]
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()

    def key(self, name: str) -> int:
        """The advisory lock key of `name`'s line (one bigint, apart from two-int keys)."""
        digest = hashlib.sha1((self._seed + name).encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        pg = self._b._pg
        conn = pg.connect(self._b.dsn, async_=True, connect_timeout=5, application_name="sloth lock waiter")
        _finish(conn, 10.0)
        self._local.cur = conn.cursor()  # an asynchronous cursor must outlive its statement
        self._local.cur.execute(f'LISTEN "{self.channel}"')
        _finish(conn, 10.0)
        self._local.conn = conn
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def stand(self, name: str, deadline: float, stop: Any) -> bool:
        """Queue in the line until first (True), or until `deadline` or `stop()` (False)."""
        conn = self._conn()
        self._local.cur.execute("SELECT pg_advisory_lock(%s)", (self.key(name),))
        while True:
            left = deadline - time.monotonic()
            if _finish(conn, min(max(left, 0.0), FALLBACK_S)):
                return True
            if left <= 0 or (stop is not None and stop()):
                conn.cancel()
                try:
                    _finish(conn, 10.0)
                except self._b._pg.Error:  # canceled while waiting: not in the line
                    return False
                self.leave(name)  # granted just before the cancel arrived
                return False

    def wait(self, name: str, timeout: float) -> bool:
        """Sleep until a release of `name` is announced (True) or `timeout` seconds (False)."""
        conn = self._conn()
        deadline = time.monotonic() + timeout
        while True:
            if self._heard(conn, name):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            select.select([conn.fileno()], [], [], left)
            conn.poll()

    def drain(self) -> None:
        """Forget releases announced so far (before asking for the lease)."""
        conn = self._conn()
        conn.poll()
        conn.notifies.clear()

    def _heard(self, conn: Any, name: str) -> bool:
        heard = any(n.payload == name for n in conn.notifies)
        conn.notifies.clear()
        return heard

    def leave(self, name: str) -> None:
        conn = self._conn()
        with contextlib.suppress(self._b._pg.Error):
            self._local.cur.execute("SELECT pg_advisory_unlock(%s)", (self.key(name),))
            _finish(conn, 10.0)

    def close(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


def _finish(conn: Any, timeout: float) -> bool:
    """Drive the connection's pending operation: True when done, False after `timeout`."""
    import psycopg2.extensions as ext  # lazy: psycopg2 only where a PostgreSQL store is opened

    deadline = time.monotonic() + timeout
    while True:
        state = conn.poll()
        if state == ext.POLL_OK:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if state == ext.POLL_READ:
            select.select([conn.fileno()], [], [], left)
        elif state == ext.POLL_WRITE:
            select.select([], [conn.fileno()], [], left)
