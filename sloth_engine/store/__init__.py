"""The durable store: workflow state and locks, run history, events.

`open_store(url)` picks the backend from the URL (`--db`, else `$SLOTH_DB`, else
`sqlite:///$SLOTH_HOME/sloth.db`), checks the schema version with one query, migrates when
behind, and returns a Store whose parts are `store.state`, `store.runs` and `store.events`.
A Store may be used from many threads (each gets its own connection) and many processes
at once; close it with `store.close()` or use it as a context manager.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sloth_engine.errors import StoreError
from sloth_engine.store.backend import Backend
from sloth_engine.store.events import EventLog
from sloth_engine.store.host_processes import HostProcesses
from sloth_engine.store.location import StoreLocation, parse_url, resolve_url
from sloth_engine.store.locks import LockGrant, LockInfo, LockTable
from sloth_engine.store.runs import RunLog
from sloth_engine.store.schema import LATEST, current_version, ensure_schema
from sloth_engine.store.state import StateEntry, StateStore
from sloth_engine.store.tokens import TokenStore
from sloth_engine.store.values import MAX_VALUE_BYTES

__all__ = [
    "LATEST",
    "MAX_VALUE_BYTES",
    "EventLog",
    "LockGrant",
    "LockInfo",
    "RunLog",
    "StateEntry",
    "StateStore",
    "Store",
    "open_store",
]


class Store:
    """An open store. Its parts share the backend's per-thread connections."""

    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.state = StateStore(backend, clock)
        self.runs = RunLog(backend, clock)
        self.events = EventLog(backend, clock)

    @property
    def url(self) -> str:
        """The store's URL, password hidden."""
        return self.backend.display

    @property
    def path(self) -> str | None:
        """The database file of a SQLite store; None on PostgreSQL."""
        path = getattr(self.backend, "path", None)
        return str(path) if path else None

    @property
    def kind(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.backend.kind

    def transaction(self) -> AbstractContextManager[None]:
        """Several calls of this thread in one commit (a nested one is a savepoint)."""
        return self.backend.transaction()

    def stack_lock_table(self, clock: Callable[[], float] = time.time) -> LockTable:
        """The leases of stack locks (`stack_locks`), with fencing tokens like state locks."""
        return LockTable(self.backend, clock, table="stack_locks")

    def host_processes(self) -> HostProcesses:
        """Task attempts in child processes of a master's host, and who runs them."""
        return HostProcesses(self.backend)

    def tokens(self, clock: Callable[[], float] = time.time) -> TokenStore:
        """The master's access tokens (`api_tokens`)."""
        return TokenStore(self.backend, clock)

    def schema_version(self) -> int | None:
        return current_version(self.backend)

    def peewee(self) -> Any:
        """A peewee Database for the models (sloth_engine.store.models) on this store."""
        return self.backend.peewee()

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


def open_store(url: str | None = None) -> Store:
    """Open (and migrate) the store at `url`; StoreError with a readable message if it cannot."""
    location = parse_url(resolve_url(url))
    backend = _backend(location)
    try:
        backend.connection()
        ensure_schema(backend)
    except BaseException:
        backend.close()
        raise
    return Store(backend)


def _backend(location: StoreLocation) -> Backend:
    if location.kind == "sqlite":
        # lazy: apsw and the SQLite backend load when a store is opened, not for `--help`
        from sloth_engine.store.sqlite_backend import SqliteBackend

        return SqliteBackend(location.path, location.display)
    try:
        from sloth_engine.store.postgres_backend import PostgresBackend  # lazy: psycopg2 is optional
    except ImportError:
        raise StoreError("PostgreSQL needs the psycopg2 driver (pip install psycopg2-binary)") from None
    return PostgresBackend(location.dsn, location.display, location.schema)
