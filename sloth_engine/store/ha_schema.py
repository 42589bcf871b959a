"""Tables of several masters on one database (HA), and the fence that refuses a stale leader.

`master_lease` has one row (id 1): the leader's id and address, its epoch (raised at every
change of leader) and when the lease expires, in the database's clock. `master_nodes` lists
every master that runs with `--ha` (leader and standbys) and when it was last seen.

On PostgreSQL, a statement trigger on the tables whose writes decide what happens (runs,
task attempts, submissions, agents, schedules, locks) compares the session setting
`sloth.epoch` with the lease's epoch, taking a share lock on the lease row: a master that
lost its lease has a stale epoch, and its write fails in the database itself. Sessions that
do not set `sloth.epoch` (a single master, the CLI, agents' lock calls) are not fenced.
"""

from __future__ import annotations

from typing import Any

FENCED_TABLES = ("runs", "task_runs", "run_submissions", "agents", "schedules", "locks")

_TABLES = (
    """CREATE TABLE IF NOT EXISTS master_lease (
        id INTEGER PRIMARY KEY,
        holder TEXT NOT NULL,
        address TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        since DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS master_nodes (
        node_id TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL
    )""",
)

_FENCE_FUNCTION = """
CREATE OR REPLACE FUNCTION sloth_epoch_fence() RETURNS trigger AS $fence$
DECLARE
    mine TEXT := current_setting('sloth.epoch', true);
    held BIGINT;
BEGIN
    IF mine IS NULL OR mine = '' THEN
        RETURN NULL;
    END IF;
    SELECT epoch INTO held FROM master_lease WHERE id = 1 FOR SHARE;
    IF held IS DISTINCT FROM mine::BIGINT THEN
        RAISE EXCEPTION 'stale leader: epoch % is over (the lease is at epoch %)', mine, held
            USING ERRCODE = 'SL001';
    END IF;
    RETURN NULL;
END
$fence$ LANGUAGE plpgsql
"""


def create_ha_tables(ctx: Any) -> None:
    for sql in _TABLES:
        ctx.execute(sql)
    if ctx.backend.kind != "postgresql":
        return
    ctx.execute(_FENCE_FUNCTION)
    for table in FENCED_TABLES:
        ctx.execute(
            f"CREATE TRIGGER {table}_epoch_fence BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION sloth_epoch_fence()"
        )
