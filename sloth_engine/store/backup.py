"""Online backup and restore of the store (`sysadmin backup` / `sysadmin restore`).

SQLite: SQLite's backup API through apsw, from the store's own connection, in one step. In WAL
mode that step reads one snapshot while writers go on, so the copy is consistent however busy
the store is. The copy is a single self-contained file (rollback journal mode), written under
a temporary name and renamed once its integrity check passed. A restore copies a backup into
the live store with the same API (other connections see the new content at their next
statement), after checking the backup's integrity and schema version.

PostgreSQL: `pg_dump` (one snapshot; plain SQL with DROP ... IF EXISTS first) of the store's
database, or only of its schema when the URL names one, and `psql --single-transaction` to
restore. The password never appears on a command line: it goes through PGPASSWORD.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sloth_engine import process
from sloth_engine.errors import SchemaTooNew, StoreError
from sloth_engine.store import Store
from sloth_engine.store.backend import Rollback
from sloth_engine.store.schema import LATEST

if TYPE_CHECKING:  # the drivers are imported only with the backend that uses them
    from sloth_engine.store.postgres_backend import PostgresBackend
    from sloth_engine.store.sqlite_backend import SqliteBackend

SQLITE_MAGIC = b"SQLite format 3\x00"
DUMP_TIMEOUT_S = 3600


class BackupInfo(NamedTuple):
    path: str
    kind: str
    """'sqlite' or 'postgresql'."""
    size: int
    schema_version: int | None
    integrity: str
    """'ok', or what the integrity check found (SQLite); 'n/a' for a dump."""


def backup(store: Store, out: str) -> BackupInfo:
    """Write a consistent copy of the open store to `out`."""
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise StoreError(f"cannot write the backup: directory {folder} does not exist")
    partial = f"{out}.partial"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    try:
        if store.kind == "sqlite":
            info = _backup_sqlite(store, partial, out)
        else:
            info = _backup_postgres(store, partial, out)
        os.replace(partial, out)
        return info
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def restore(store: Store, source: str) -> BackupInfo:
    """Replace the store's content with the backup at `source`."""
    if not os.path.isfile(source):
        raise StoreError(f"no backup file {source}")
    with open(source, "rb") as handle:
        is_sqlite = handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    if store.kind == "sqlite":
        if not is_sqlite:
            raise StoreError(f"{source} is not a SQLite backup (the store is SQLite)")
        return _restore_sqlite(store, source)
    if is_sqlite:
        raise StoreError(f"{source} is a SQLite backup; the store is PostgreSQL")
    return _restore_postgres(store, source)


def try_write(store: Store) -> None:
    """A real write transaction, rolled back (nothing changes); StoreError if the store refuses it."""
    backend = store.backend
    with backend.transaction():
        backend.execute(backend.sql("UPDATE lock_fencing SET value = value WHERE id = 1"))
        raise Rollback


def integrity(store: Store) -> str:
    """'ok', or the problems SQLite's integrity check found; 'n/a' on PostgreSQL."""
    if store.kind != "sqlite":
        return "n/a"
    return str(cast("SqliteBackend", store.backend).integrity_check())


# ---- SQLite ---------------------------------------------------------------------------------


def _check_copy(conn: Any, what: str) -> tuple[str, int | None]:
    import apsw

    try:
        problems = "\n".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall())
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    except apsw.Error as exc:
        raise StoreError(f"{what} is not a Sloth Runner store: {exc}") from None
    version = int(row[0]) if row and row[0] is not None else None
    return problems, version


def _backup_sqlite(store: Store, partial: str, out: str) -> BackupInfo:
    import apsw

    source = store.backend.connection()
    copy = apsw.Connection(partial)
    try:
        with copy.backup("main", source, "main") as job:
            while not job.done:
                job.step(-1)  # everything in one step: one read snapshot of the source
        copy.execute("PRAGMA journal_mode=DELETE").fetchall()  # a single self-contained file
        problems, version = _check_copy(copy, "the copy")
    except apsw.Error as exc:
        raise StoreError(f"backup of {store.url} failed: {exc}") from None
    finally:
        copy.close()
    if problems != "ok":
        raise StoreError(f"the copy of {store.url} failed its integrity check: {problems}")
    return BackupInfo(out, "sqlite", os.path.getsize(partial), version, problems)


def _restore_sqlite(store: Store, source: str) -> BackupInfo:
    import apsw

    backend = store.backend
    copy = apsw.Connection(source, flags=apsw.SQLITE_OPEN_READONLY)
    try:
        problems, version = _check_copy(copy, source)
        if problems != "ok":
            raise StoreError(f"{source} failed its integrity check: {problems}")
        if version is not None and version > LATEST:
            raise SchemaTooNew(f"{source} has schema v{version}, newer than this Sloth Runner (v{LATEST})")
        target = backend.connection()
        with backend._writer():  # this process's writers wait; other processes meet the busy handler
            with target.backup("main", copy, "main") as job:
                while not job.done:
                    job.step(-1)
        mode = target.execute("PRAGMA journal_mode").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            target.execute("PRAGMA journal_mode=WAL").fetchall()
    except apsw.Error as exc:
        raise StoreError(f"restore of {store.url} from {source} failed: {exc}") from None
    finally:
        copy.close()
    found = integrity(store)
    if found != "ok":
        raise StoreError(f"{store.url} failed its integrity check after the restore: {found}")
    return BackupInfo(source, "sqlite", os.path.getsize(source), version, found)


# ---- PostgreSQL -------------------------------------------------------------------------------


def _connection(store: Store) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the environment that carries the password."""
    from psycopg2.extensions import make_dsn, parse_dsn

    params = parse_dsn(cast("PostgresBackend", store.backend).dsn)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = password
    return make_dsn(**params), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StoreError(
            f"'{name}' is needed for a PostgreSQL store and is not installed (postgresql-client)"
        )
    return path


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = process.run(argv, env=env, timeout=DUMP_TIMEOUT_S)
    except OSError as exc:
        raise StoreError(f"{what} cannot start: {exc}") from None
    if done.timed_out:
        raise StoreError(f"{what} took longer than {DUMP_TIMEOUT_S} s")
    if done.exit_code != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise StoreError(f"{what} failed (exit {done.exit_code}): {' / '.join(said)}")


def _backup_postgres(store: Store, partial: str, out: str) -> BackupInfo:
    dsn, env = _connection(store)
    argv = [_tool("pg_dump"), "--dbname", dsn, "--format=plain", "--clean", "--if-exists", "--no-owner"]
    argv += ["--no-privileges", "--file", partial]
    schema = cast("PostgresBackend", store.backend).schema
    if schema:
        argv += ["--schema", schema]
    _run(argv, env, f"pg_dump of {store.url}")
    return BackupInfo(out, "postgresql", os.path.getsize(partial), store.schema_version(), "n/a")


def _restore_postgres(store: Store, source: str) -> BackupInfo:
    dsn, env = _connection(store)
    argv = [_tool("psql"), "--dbname", dsn, "--single-transaction", "--quiet", "--no-psqlrc"]
    argv += ["-v", "ON_ERROR_STOP=1", "--file", source]
    _run(argv, env, f"psql restore of {store.url}")
    return BackupInfo(source, "postgresql", os.path.getsize(source), store.schema_version(), "n/a")
