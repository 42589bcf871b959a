"""The connection layer under the store: one driver connection per thread, raw SQL, transactions.

Every SQL text in the store is written once with `?` placeholders and translated by the backend
when its user is built (`Backend.sql`). Reads and single-statement writes run in the driver's
autocommit mode; `transaction()` brackets several statements (`BEGIN IMMEDIATE` on SQLite, so a
read-modify-write never meets a busy upgrade; `BEGIN` on PostgreSQL, where a read-modify-write
locks its row with an upsert first, see `row_locks`). Driver exceptions never leave this layer:
they become StoreError with a readable message.

A thread's connection is opened on its first use and closed by `close()`, or when another
thread opens a connection after the first thread has ended. A Store must not cross a fork().
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sloth_engine.errors import StoreError


class Rollback(Exception):
    """Raised inside `Backend.transaction()` to roll it back quietly (a refused CAS, a held lock)."""


class Backend:
    """Base of the SQLite and PostgreSQL backends."""

    kind: str = ""
    begin_sql: str = "BEGIN"
    row_locks: bool = False
    """True when concurrent writers are isolated by row locks (PostgreSQL), False when a write
    transaction excludes every other writer (SQLite's BEGIN IMMEDIATE). With row locks, a
    read-modify-write locks its row by an upsert and a lock grant is one statement."""
    int_type: str = "INTEGER"
    """The 64-bit integer type for CAST."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._local = threading.local()
        self._conns: list[tuple[weakref.ref[threading.Thread], Any]] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._peewee: Any = None

    # ---- driver specifics (subclasses) ----------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """Translate a `?`-placeholder statement for this driver."""
        return text

    def query_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read: its rows."""
        raise NotImplementedError

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A statement that changes something (or BEGIN/COMMIT)."""
        raise NotImplementedError

    def write(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A statement that changes something, with the rows of its RETURNING clause."""
        raise NotImplementedError

    def insert_rows(self, head: str, width: int, tail: str, rows: Sequence[Sequence[Any]]) -> None:
        """`{head} VALUES (...), ... {tail}` for many rows, batched by the driver."""
        raise NotImplementedError

    def table_exists(self, name: str) -> bool:
        raise NotImplementedError

    def prepare_migration(self) -> None:
        """Inside the migration transaction, before the schema version is read again."""

    def set_session(self, name: str, value: str) -> None:
        """A session setting for every connection (PostgreSQL); SQLite has none to set."""

    def error(self, exc: BaseException) -> StoreError:
        """A StoreError describing a driver error."""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(f"database error ({self.display}): {first}")

    def rows_of(self, query: Any) -> list[dict[str, Any]]:
        """The rows of a peewee model query, as dicts, run on this thread's connection."""
        return list(query.bind(self.peewee()).dicts())

    def peewee(self) -> Any:
        """A peewee Database on this backend's connections, for model queries (lazy import)."""
        if self._peewee is None:
            # lazy: peewee (~50 ms) is imported on the first model read, not by every command
            from sloth_engine.store.orm import borrowing_database

            self._peewee = borrowing_database(self)
        return self._peewee

    # ---- connections ------------------------------------------------------------------

    def connection(self) -> Any:
        """This thread's driver connection, opened on first use."""
        try:
            return self._local.conn
        except AttributeError:
            return self._open_for_thread()

    def _open_for_thread(self) -> Any:
        if self._closed:
            raise StoreError(f"the store {self.display} is closed")
        conn = self._connect()
        me = threading.current_thread()
        with self._conns_lock:
            stale = [c for ref, c in self._conns if not _alive(ref)]
            self._conns = [(ref, c) for ref, c in self._conns if _alive(ref)]
            self._conns.append((weakref.ref(me), conn))
        for old in stale:
            _close_quietly(old)
        self._local.conn = conn
        self._on_open(conn)
        return conn

    def _on_open(self, conn: Any) -> None:
        """Hook for per-thread state such as a reusable cursor."""

    def _forget_thread_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        with self._conns_lock:
            self._conns = [(ref, c) for ref, c in self._conns if c is not conn]
        self._local.__dict__.clear()
        _close_quietly(conn)

    def close(self) -> None:
        """Close every thread's connection; the backend cannot be used afterwards."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
            self._closed = True
        for _, conn in conns:
            _close_quietly(conn)
        self._local = threading.local()

    # ---- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the body in one transaction on this thread's connection.

        Raising Rollback inside rolls back and is swallowed; any other exception rolls back
        and propagates. Inside another transaction of this thread (the master running a batch
        of agents' calls in one commit) the body is a savepoint: it rolls back alone.
        """
        if getattr(self._local, "in_txn", False):
            with self._savepoint():
                yield
            return
        with self._writer():
            self._begin()
            self._local.in_txn = True
            try:
                yield
            except BaseException as exc:
                self._local.in_txn = False
                self._rollback()
                if isinstance(exc, Rollback):
                    return
                raise
            else:
                self._local.in_txn = False
                try:
                    self._commit()
                except StoreError:
                    self._rollback()  # a failed COMMIT can leave the transaction open
                    raise

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        depth = getattr(self._local, "savepoints", 0) + 1
        self._local.savepoints = depth
        name = f"sloth_sp{depth}"
        self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException as exc:
            self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.execute(f"RELEASE SAVEPOINT {name}")
            if not isinstance(exc, Rollback):
                raise
        else:
            self.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._local.savepoints = depth - 1

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """Serialises this process's write transactions where the database would anyway."""
        yield

    def _begin(self) -> None:
        self.execute(self.begin_sql)

    def _commit(self) -> None:
        self.execute("COMMIT")

    def _rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except StoreError:
            self._forget_thread_connection()


def _alive(ref: weakref.ref[threading.Thread]) -> bool:
    thread = ref()
    return thread is not None and thread.is_alive()


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # a broken connection may fail to close; nothing more to do
        pass
