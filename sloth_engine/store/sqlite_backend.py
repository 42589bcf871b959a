"""SQLite through apsw: WAL, synchronous=NORMAL, a short-sleep busy handler, foreign keys."""

from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from sloth_engine.errors import SchemaMissing, StoreError, StoreUnavailable
from sloth_engine.store.backend import Backend

BUSY_TIMEOUT_S = 15.0
"""How long a statement waits for another connection's write lock before failing."""


class SqliteBackend(Backend):
    kind = "sqlite"
    begin_sql = "BEGIN IMMEDIATE"

    def __init__(self, path: str, display: str, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        super().__init__(display)
        self.path = path
        self.busy_timeout = busy_timeout
        self._write_lock = FifoLock()
        parent = Path(path).parent
        if not parent.is_dir():
            raise StoreError(f"cannot open {display}: directory {parent} does not exist")

    def _connect(self) -> Any:
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn = apsw.Connection(self.path)
            except apsw.Error as exc:
                raise StoreError(f"cannot open {self.display}: {_reason(exc)}") from None
            try:
                self._configure(conn)
                return conn
            except apsw.BusyError as exc:
                # Switching a new file to WAL while another process does the same can be refused
                # at once (SQLite's deadlock guard skips the busy handler): try again shortly.
                conn.close()
                if time.monotonic() >= deadline:
                    raise StoreError(f"cannot open {self.display}: {_reason(exc)}") from None
                time.sleep(random.uniform(0.005, 0.03))
            except apsw.Error as exc:
                conn.close()
                raise StoreError(f"cannot open {self.display}: {_reason(exc)}") from None

    def _configure(self, conn: Any) -> None:
        conn.setbusyhandler(_busy_handler(self.busy_timeout))
        mode = conn.execute("PRAGMA journal_mode").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")

    def query_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.connection().execute(sql, params).fetchall()
        except apsw.Error as exc:
            raise self.error(exc) from None

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        try:
            return self.connection().execute(sql, params).fetchone()
        except apsw.Error as exc:
            raise self.error(exc) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.write(sql, params)

    def write(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Writers of this process queue on a Python lock (woken at once, in turn) rather than
        # polling in SQLite's busy handler, which lets a few threads starve the others.
        with self._write_lock:
            try:
                _inject_full_disk()
                return self.connection().execute(sql, params).fetchall()
            except apsw.Error as exc:
                raise self.error(exc) from None

    def insert_rows(self, head: str, width: int, tail: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        sql = f"{head} VALUES ({', '.join('?' * width)}) {tail}"
        with self._write_lock:
            try:
                _inject_full_disk()
                self.connection().executemany(sql, rows)
            except apsw.Error as exc:
                raise self.error(exc) from None

    def table_exists(self, name: str) -> bool:
        row = self.query_one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return row is not None

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: 'ok' or the problems found."""
        rows = self.query_all("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)

    def error(self, exc: BaseException) -> StoreError:
        if isinstance(exc, apsw.FullError):  # space may come back: the write is worth retrying
            return StoreUnavailable(str(super().error(exc)))
        if isinstance(exc, apsw.SQLError) and "no such table" in str(exc):
            return SchemaMissing(
                f"{self.display} has no Sloth Runner schema ({_reason(exc)}); "
                "`sloth-daemon sysadmin init-store` creates it"
            )
        if isinstance(exc, apsw.BusyError):
            return StoreUnavailable(
                f"{self.display} is busy: another process held its write lock for more than "
                f"{self.busy_timeout:g}s"
            )
        return super().error(exc)

    @contextmanager
    def _writer(self) -> Iterator[None]:
        with self._write_lock:
            yield


class FifoLock:
    """A reentrant lock handed to waiting threads in arrival order.

    threading.Lock lets the thread that just released it take it straight back, so under
    load a few threads get every write and the others wait tens of milliseconds.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[tuple[int, threading.Lock]] = deque()
        self._owner: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me or self._owner is None:
                self._owner = me
                self._depth += 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append((me, gate))
        gate.acquire()  # released by the previous owner, who made us the owner

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, gate = self._waiters.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None


FULL_DISK_FAULT = "SLOTH_TEST_FULL_DISK"
"""Tests only: while the file this variable names exists, every write fails as on a full disk
(SQLITE_FULL), so tests need no size-limited file system to show what a full disk does."""
_FAULT_FILE = os.environ.get(FULL_DISK_FAULT)


def _inject_full_disk() -> None:
    if _FAULT_FILE and os.path.exists(_FAULT_FILE):
        raise apsw.FullError("database or disk is full")


def _busy_handler(timeout: float) -> Any:
    """Retry a locked database with short, growing, jittered sleeps until `timeout`."""
    started = [0.0]

    def handler(prior_calls: int) -> bool:
        now = time.monotonic()
        if prior_calls == 0:
            started[0] = now
        elif now - started[0] > timeout:
            return False
        delay = min(0.0002 * (1.5 ** min(prior_calls, 20)), 0.005)
        time.sleep(delay * (0.5 + random.random()))
        return True

    return handler


def _reason(exc: BaseException) -> str:
    if isinstance(exc, apsw.NotADBError):
        return "the file is not a SQLite database"
    if isinstance(exc, apsw.CantOpenError):
        return "the file cannot be opened (missing directory or no permission)"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
