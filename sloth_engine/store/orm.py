"""A peewee Database that runs on the backend's own per-thread connections.

Raw SQL and peewee queries of one thread share its connection, and so its transaction.
Importing this module imports peewee.
"""

from __future__ import annotations

from typing import Any

from peewee import Database, PostgresqlDatabase
from playhouse.apsw_ext import APSWDatabase

from sloth_engine.store.backend import Backend


def borrowing_database(backend: Backend) -> Database:
    """A peewee database whose connections are the backend's (never opened or closed by it)."""
    base: type[Database] = APSWDatabase if backend.kind == "sqlite" else PostgresqlDatabase

    class BorrowedConnections(base):  # type: ignore[valid-type, misc]
        def connect(self, reuse_if_open: bool = False) -> bool:
            return False

        def close(self) -> bool:
            return False

        def is_closed(self) -> bool:
            return False

        def connection(self) -> Any:
            return backend.connection()

        def cursor(self, named_cursor: Any = None) -> Any:
            return backend.connection().cursor()

    db = BorrowedConnections(backend.display)
    if backend.kind != "sqlite":
        db.server_version = backend.connection().server_version
    return db
