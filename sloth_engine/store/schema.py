"""Schema versions and the ordered migrations that reach them.

Opening a store reads `MAX(version)` from `schema_version` (one query). Only when that is behind
`LATEST` does it import peewee and migrate: in one transaction (SQLite `BEGIN IMMEDIATE`;
PostgreSQL `BEGIN` plus an advisory lock), it reads the version again (another process may just
have migrated), applies each missing migration in order and records it. DDL is transactional on
both backends, so a failed migration leaves the previous version intact.

Adding a table later: define its model in `models.py`, then append

    Migration(2, "hooks", lambda ctx: ctx.create_tables(m.Hook, m.HookExecution))

to MIGRATIONS (reach the models through `ctx.models`). A migration that changes an existing
table must be safe on a database that an earlier migration created from the newer model: use
`ctx.add_column(model, field_name)`, which skips a column that exists already.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

from sloth_engine.errors import SchemaTooNew, StoreError
from sloth_engine.store import host_processes, tokens
from sloth_engine.store.backend import Backend
from sloth_engine.store.ha_schema import create_ha_tables


class MigrationContext:
    """What a migration may use: raw SQL and the models, on the migrating transaction."""

    def __init__(self, backend: Backend) -> None:
        from sloth_engine.store import models  # lazy: peewee is imported on the first migration

        self.backend = backend
        self.database = backend.peewee()
        self.models: ModuleType = models

    def create_tables(self, *models: Any) -> None:
        from peewee import SchemaManager

        for model in models:
            SchemaManager(model, self.database).create_all(safe=True)

    def add_column(self, model: Any, field_name: str) -> None:
        from playhouse.migrate import SchemaMigrator, migrate

        table = model._meta.table_name
        present = {c.name for c in self.database.get_columns(table)}
        field = model._meta.fields[field_name]
        if field.column_name not in present:
            migrator = SchemaMigrator.from_database(self.database)
            migrate(migrator.add_column(table, field.column_name, field))

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.backend.execute(self.backend.sql(sql), params)


class Migration(NamedTuple):
    version: int
    description: str
    apply: Callable[[MigrationContext], None]


def _v1(ctx: MigrationContext) -> None:
    m = ctx.models
    ctx.create_tables(m.Kv, m.Lock, m.LockFencing, m.Run, m.TaskRun, m.RunLogLine, m.Event)
    ctx.execute("INSERT INTO lock_fencing (id, value) VALUES (1, 0)")


def _v2(ctx: MigrationContext) -> None:
    ctx.create_tables(ctx.models.Agent, ctx.models.RunSubmission)


def _v3(ctx: MigrationContext) -> None:
    m = ctx.models
    ctx.create_tables(m.Hook, m.HookExecution, m.Schedule, m.Secret, m.SecretsKey)


def _v4(ctx: MigrationContext) -> None:
    m = ctx.models
    ctx.create_tables(m.Stack, m.StackLock, m.StackVersion, m.Resource, m.DriftDetection, m.StackDependency)


def _v5(ctx: MigrationContext) -> None:
    create_ha_tables(ctx)


def _v6(ctx: MigrationContext) -> None:
    ctx.execute(tokens.CREATE_TABLE)


def _v7(ctx: MigrationContext) -> None:
    for name in ("owner_host", "owner_boot", "owner_pid", "owner_started", "resuming"):
        ctx.add_column(ctx.models.Run, name)


def _v8(ctx: MigrationContext) -> None:
    for statement in tokens.ADD_AGENT_COLUMN:
        ctx.execute(statement)


def _v9(ctx: MigrationContext) -> None:
    ctx.execute(host_processes.CREATE_TABLE)


def _v10(ctx: MigrationContext) -> None:
    ctx.add_column(ctx.models.Run, "source_digest")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "state, locks, run history, events", _v1),
    Migration(2, "agents, run submissions (master)", _v2),
    Migration(3, "hooks, hook executions, schedules, secrets", _v3),
    Migration(4, "stacks, stack locks, snapshots, resources, drift, stack dependencies", _v4),
    Migration(5, "master lease, master nodes, epoch fencing of leader writes (HA)", _v5),
    Migration(6, "API tokens (hashed) of the master's roles", _v6),
    Migration(7, "each run's owner and resume mark (abandoned and poison runs)", _v7),
    Migration(8, "agents' own tokens: an agent name bound to its token", _v8),
    Migration(9, "task attempts in child processes of a master's host (adopted after a restart)", _v9),
    Migration(10, "each run's workflow file digest (a retry refuses a file changed since)", _v10),
)
LATEST = MIGRATIONS[-1].version

_VERSION_SQL = "SELECT MAX(version) FROM schema_version"


def current_version(backend: Backend) -> int | None:
    """The schema version of the database, None when it has no schema_version table."""
    if not backend.table_exists("schema_version"):
        return None
    row = backend.query_one(_VERSION_SQL)
    return int(row[0]) if row and row[0] is not None else 0


def ensure_schema(backend: Backend) -> int:
    """Bring the database to LATEST; SchemaTooNew if it is ahead of this program."""
    version = _quick_version(backend)
    if version == LATEST:
        return version
    _check_not_newer(version)
    with backend.transaction():
        backend.prepare_migration()
        version = current_version(backend)
        if version is None:
            context = MigrationContext(backend)
            context.create_tables(context.models.SchemaVersion)
            version = 0
        _check_not_newer(version)
        if version < LATEST:
            _apply(backend, version)
    return LATEST


def _quick_version(backend: Backend) -> int | None:
    """One query in the common case; a missing table reads as 'needs migrating'."""
    try:
        row = backend.query_one(_VERSION_SQL)
    except StoreError:  # no schema_version table yet: the migration path finds out
        return None
    return int(row[0]) if row and row[0] is not None else None


def _check_not_newer(version: int | None) -> None:
    if version is not None and version > LATEST:
        raise SchemaTooNew(
            f"database schema v{version} is newer than this Sloth Runner (v{LATEST}); upgrade sloth-runner"
        )


def _apply(backend: Backend, version: int) -> None:
    ctx = MigrationContext(backend)
    record = backend.sql("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)")
    for migration in MIGRATIONS:
        if migration.version > version:
            migration.apply(ctx)
            backend.execute(record, (migration.version, migration.description, time.time()))
