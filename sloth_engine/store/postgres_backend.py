"""PostgreSQL through psycopg2 (imported only when a PostgreSQL store is opened)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from sloth_engine.errors import SchemaMissing, StoreError, StoreUnavailable
from sloth_engine.store.backend import Backend
from sloth_engine.store.retry import RETRY_WINDOW, backoff, note_unavailable

CONNECT_TIMEOUT = 5
"""Seconds a new connection may take (a server that does not answer is retried, not waited on)."""
_CONNECTION_GONE = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now (a failover)."""
_TRANSIENT = frozenset({"55P03", "40001", "40P01", "53300", "53100"})
"""lock_not_available (a lock timeout), serialization_failure, deadlock_detected,
too_many_connections, disk_full: the same write may succeed later."""
_MIGRATION_LOCK_CLASS = 5107
"""First key of the transaction-level advisory lock taken while migrating a schema."""


class PostgresBackend(Backend):
    kind = "postgresql"
    row_locks = True
    int_type = "BIGINT"

    def __init__(self, dsn: str, display: str, schema: str | None = None) -> None:
        super().__init__(display)
        import psycopg2
        import psycopg2.extras

        self._pg = psycopg2
        self._execute_values = psycopg2.extras.execute_values
        self.dsn = dsn
        self.schema = schema

    def _connect(self) -> Any:
        try:
            # application_name: pg_stat_activity shows which process holds each connection.
            conn = self._pg.connect(
                self.dsn, connect_timeout=CONNECT_TIMEOUT, application_name=f"sloth pid {os.getpid()}"
            )
        except self._pg.OperationalError as exc:  # the server is down, restarting, refusing us
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL {self.display}: {_first_line(exc)}"
            ) from None
        except self._pg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL {self.display}: {_first_line(exc)}") from None
        conn.autocommit = True
        return conn

    def _on_open(self, conn: Any) -> None:
        self._local.cursor = conn.cursor()

    def _cursor(self) -> Any:
        try:
            cur = self._local.cursor
        except AttributeError:
            self.connection()
            cur = self._local.cursor
        if self._session_gen and getattr(self._local, "session_gen", 0) != self._session_gen:
            self._apply_session(cur)
        return cur

    # A master that leads (HA) writes with `sloth.epoch` set on every connection, so the fence
    # trigger of ha_schema can refuse its writes once another master holds the lease.

    _session: dict[str, str] = {}
    _session_gen = 0

    def set_session(self, name: str, value: str) -> None:
        """Set a session setting on every connection of this backend, before its next statement."""
        self._session = {**self._session, name: value}
        self._session_gen += 1

    def _apply_session(self, cur: Any) -> None:
        gen = self._session_gen
        for name, value in self._session.items():
            try:
                cur.execute("SELECT set_config(%s, %s, false)", (name, value))
            except self._pg.Error as exc:
                raise self._failed(exc) from None
        self._local.session_gen = gen

    def sql(self, text: str) -> str:
        return text.replace("%", "%%").replace("?", "%s")

    def query_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._run(sql, params)
        return cur.fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cur = self._run(sql, params)
        return cur.fetchone()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._run(sql, params)

    def write(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.query_all(sql, params)

    def insert_rows(self, head: str, width: int, tail: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if getattr(self._local, "begin_pending", False):
            self._run("SELECT 1", ())  # execute_values may send several statements: begin first
        cur = self._cursor()
        try:
            self._execute_values(cur, f"{head} VALUES %s {tail}", rows, page_size=1000)
        except self._pg.Error as exc:
            raise self._failed(exc) from None

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        """Execute; a statement of its own (not in a transaction) is sent again on a fresh
        connection after a transient failure, until retry.RETRY_WINDOW has passed."""
        deadline = 0.0
        attempt = 0
        while True:
            # COMMIT/ROLLBACK end a transaction: sent again on a new connection they would
            # "succeed" while the transaction they meant is gone.
            alone = not getattr(self._local, "in_txn", False) and sql not in ("COMMIT", "ROLLBACK")
            try:
                cur = self._cursor()
                cur.execute(self._with_begin(sql), params)
                return cur
            except self._pg.Error as exc:
                error = self._failed(exc)
            except StoreUnavailable as exc:  # connecting failed
                error = exc
            if not (alone and isinstance(error, StoreUnavailable)):
                raise error from None
            deadline = deadline or time.monotonic() + RETRY_WINDOW
            if time.monotonic() >= deadline:
                raise error from None
            note_unavailable(self.display, error)
            time.sleep(backoff(attempt))
            attempt += 1

    # A transaction's BEGIN travels with its first statement: one round trip fewer.

    def _begin(self) -> None:
        self._local.begin_pending = True

    def _with_begin(self, sql: str) -> str:
        if getattr(self._local, "begin_pending", False):
            self._local.begin_pending = False
            return "BEGIN; " + sql
        return sql

    def _commit(self) -> None:
        if getattr(self._local, "begin_pending", False):
            self._local.begin_pending = False  # nothing was sent: nothing to commit
            return
        self.execute("COMMIT")

    def _rollback(self) -> None:
        if getattr(self._local, "begin_pending", False):
            self._local.begin_pending = False
            return
        super()._rollback()

    def table_exists(self, name: str) -> bool:
        row = self.query_one("SELECT to_regclass(%s) IS NOT NULL", (name,))
        return bool(row and row[0])

    def prepare_migration(self) -> None:
        """Inside the migration transaction: serialise migrators, create the schema if needed."""
        self.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(current_setting('search_path')))",
            (_MIGRATION_LOCK_CLASS,),
        )
        if self.schema:
            self.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    def _failed(self, exc: BaseException) -> StoreError:
        conn = getattr(self._local, "conn", None)
        dropped = isinstance(exc, (self._pg.OperationalError, self._pg.InterfaceError)) and (
            conn is None or conn.closed
        )
        code = getattr(exc, "pgcode", None) or ""
        if dropped or code.startswith("08") or code in _CONNECTION_GONE:
            self._forget_thread_connection()
            return StoreUnavailable(str(self.error(exc)))
        if code in _TRANSIENT:
            return StoreUnavailable(str(self.error(exc)))
        if code == "42P01":  # undefined_table: the database lost (or never had) our schema
            return SchemaMissing(
                f"{self.display} has no Sloth Runner schema ({_first_line(exc)}): it is empty or "
                "another program's database; `sloth-daemon sysadmin init-store` creates the schema"
            )
        return self.error(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
