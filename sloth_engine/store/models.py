"""The peewee models: the schema of the store, the same on SQLite and PostgreSQL.

The models are not bound to a database (several stores may be open in one process): the
migrations create tables with `SchemaManager(model, database)`, and queries are bound per call
with `query.bind(database)` (see `Backend`'s `peewee()`). Times are epoch seconds (floats);
structured values (params, outputs, event data, state values) are JSON text.

Importing this module imports peewee; the store's hot paths do not need it.
"""

from __future__ import annotations

from peewee import (
    SQL,
    BigAutoField,
    BigIntegerField,
    DoubleField,
    IntegerField,
    Model,
    TextField,
)


class SchemaVersion(Model):
    version = IntegerField(primary_key=True)
    description = TextField(default="")
    applied_at = DoubleField()

    class Meta:
        table_name = "schema_version"


class Kv(Model):
    namespace = TextField()
    key = TextField()
    value = TextField()
    value_type = TextField()
    version = BigIntegerField(default=1)
    expires_at = DoubleField(null=True, index=True)
    owner = TextField(default="")
    updated_at = DoubleField()

    class Meta:
        table_name = "kv"
        indexes = ((("namespace", "key"), True),)


class Lock(Model):
    name = TextField(primary_key=True)
    holder = TextField()
    token = BigIntegerField()
    acquired_at = DoubleField()
    expires_at = DoubleField()
    reason = TextField(default="")

    class Meta:
        table_name = "locks"


class LockFencing(Model):
    """One row (id 1): the last fencing token handed out by this store."""

    id = IntegerField(primary_key=True)
    value = BigIntegerField(default=0)

    class Meta:
        table_name = "lock_fencing"


class Run(Model):
    run_id = TextField(primary_key=True)
    workflow = TextField(index=True)
    file = TextField(default="")
    stack = TextField(null=True)
    status = TextField(index=True)
    started_at = DoubleField(index=True)
    finished_at = DoubleField(null=True)
    duration_s = DoubleField(null=True)
    params = TextField(null=True)
    error = TextField(null=True)
    owner_host = TextField(null=True)
    owner_boot = TextField(null=True)
    owner_pid = IntegerField(null=True)
    owner_started = DoubleField(null=True)
    """The process executing the run (sloth_engine.run_owner): when it is gone, so is the run."""
    resuming = DoubleField(null=True)
    """When a master began resuming the run; still set at its next start, the run is poison."""
    source_digest = TextField(null=True)
    """sha256 of the workflow file's text when the run was created (sloth_engine.retry)."""

    class Meta:
        table_name = "runs"


_RUN_FK = SQL("FOREIGN KEY (run_id) REFERENCES runs (run_id) ON DELETE CASCADE")


class TaskRun(Model):
    """One row per task attempt."""

    id = BigAutoField()
    run_id = TextField()
    task = TextField()
    attempt = IntegerField()
    status = TextField()
    started_at = DoubleField(null=True)
    finished_at = DoubleField(null=True)
    duration_s = DoubleField(null=True)
    agent = TextField(null=True)
    message = TextField(null=True)
    error = TextField(null=True)
    outputs = TextField(null=True)
    exit_code = IntegerField(null=True)

    class Meta:
        table_name = "task_runs"
        indexes = ((("run_id", "task", "attempt"), True),)
        constraints = [_RUN_FK]


class RunLogLine(Model):
    """One captured line of a task attempt's stdout or stderr."""

    id = BigAutoField()
    run_id = TextField()
    task = TextField()
    attempt = IntegerField()
    stream = TextField()
    seq = BigIntegerField()
    ts = DoubleField()
    line = TextField()

    class Meta:
        table_name = "run_logs"
        indexes = ((("run_id", "task"), False),)
        constraints = [_RUN_FK]


class Event(Model):
    id = BigAutoField()
    ts = DoubleField(index=True)
    type = TextField(index=True)
    severity = TextField(default="info")
    source = TextField(default="")
    stack = TextField(null=True)
    run_id = TextField(null=True, index=True)
    data = TextField(default="{}")

    class Meta:
        table_name = "events"


class Agent(Model):
    """One row per agent name: a re-registering agent updates its row."""

    name = TextField(primary_key=True)
    instance_id = TextField(default="")
    address = TextField(default="")
    tags = TextField(default="{}")
    status = TextField(index=True)
    version = TextField(default="")
    max_tasks = IntegerField(default=1)
    heartbeat_interval_s = DoubleField(default=5.0)
    registered_at = DoubleField()
    connected_at = DoubleField(null=True)
    last_heartbeat = DoubleField(null=True)
    disconnected_at = DoubleField(null=True)
    metrics = TextField(default="{}")
    facts = TextField(default="{}")
    modules = TextField(default="[]")

    class Meta:
        table_name = "agents"


class RunSubmission(Model):
    """What a client submitted to a master for a run, so a restarted master can resume it."""

    run_id = TextField(primary_key=True)
    path = TextField()
    workflow = TextField()
    source = TextField()
    values = TextField(default="{}")
    params = TextField(default="{}")
    max_parallel = IntegerField(null=True)
    stack = TextField(null=True)
    delegate_to = TextField(null=True)
    submitted_at = DoubleField()

    class Meta:
        table_name = "run_submissions"


class Hook(Model):
    """A Lua file run for events of the given types (JSON list of patterns: `task.failed`,
    `task.*`, `*`), optionally only for one stack. The source is kept, not the path."""

    name = TextField(primary_key=True)
    event_types = TextField(default="[]")
    stack = TextField(null=True)
    source = TextField()
    path = TextField(default="")
    enabled = IntegerField(default=1)
    timeout_s = DoubleField(default=30.0)
    created_at = DoubleField()
    updated_at = DoubleField()

    class Meta:
        table_name = "hooks"


class HookExecution(Model):
    """One run of one hook for one event: outcome success | failed | timeout | dropped."""

    id = BigAutoField()
    hook = TextField(index=True)
    event_id = BigIntegerField(null=True)
    event_type = TextField()
    run_id = TextField(null=True)
    started_at = DoubleField(index=True)
    duration_s = DoubleField(default=0.0)
    outcome = TextField(index=True)
    output = TextField(default="")
    error = TextField(null=True)

    class Meta:
        table_name = "hook_executions"


class Schedule(Model):
    """A workflow file fired by a cron expression (croniter; seconds field optional)."""

    name = TextField(primary_key=True)
    cron = TextField()
    file = TextField()
    workflow = TextField(default="")
    values_file = TextField(null=True)
    tz = TextField(default="UTC")
    overlap = TextField(default="skip")
    catch_up = TextField(default="none")
    enabled = IntegerField(default=1)
    next_fire_at = DoubleField(null=True)
    last_fire_at = DoubleField(null=True)
    last_run_id = TextField(null=True)
    created_at = DoubleField()
    updated_at = DoubleField()

    class Meta:
        table_name = "schedules"


class Secret(Model):
    """A value encrypted with AES-256-GCM (nonce and ciphertext base64; the stack and name are
    the associated data, so a row copied under another name does not decrypt)."""

    id = BigAutoField()
    stack = TextField()
    name = TextField()
    nonce = TextField()
    ciphertext = TextField()
    created_at = DoubleField()
    updated_at = DoubleField()

    class Meta:
        table_name = "secrets"
        indexes = ((("stack", "name"), True),)


class SecretsKey(Model):
    """One row (id 1): the store's KDF salt and parameters, and a check value encrypted under
    the key, so that a wrong passphrase is told apart before anything is written."""

    id = IntegerField(primary_key=True)
    kdf = TextField()
    salt = TextField()
    params = TextField(default="{}")
    check_value = TextField()
    created_at = DoubleField()

    class Meta:
        table_name = "secrets_key"


# ---- stacks (sloth_engine.stacks) ------------------------------------------------------------


class Stack(Model):
    """A named deployment target: its runs are counted, its outputs and resources tracked.
    `last_version` is the last snapshot number handed out (numbers are never reused)."""

    name = TextField(primary_key=True)
    description = TextField(default="")
    workflow_file = TextField(default="")
    workflow = TextField(default="")
    status = TextField(default="created")
    created_at = DoubleField()
    updated_at = DoubleField()
    last_run_id = TextField(null=True)
    last_run_at = DoubleField(null=True)
    last_duration_s = DoubleField(null=True)
    execution_count = IntegerField(default=0)
    outputs = TextField(default="{}")
    last_version = IntegerField(default=0)

    class Meta:
        table_name = "stacks"


class StackLock(Lock):
    """A stack's lock: the same lease shape as `locks` (store.locks.LockTable runs on both)."""

    class Meta:
        table_name = "stack_locks"


class StackVersion(Model):
    """A snapshot: the stack's resources (JSON {columns, rows}) and outputs at one moment."""

    id = BigAutoField()
    stack = TextField()
    version = IntegerField()
    description = TextField(default="")
    creator = TextField(default="")
    created_at = DoubleField()
    run_id = TextField(null=True)
    resource_count = IntegerField(default=0)
    resources = TextField(default="{}")
    outputs = TextField(default="{}")

    class Meta:
        table_name = "stack_versions"
        indexes = ((("stack", "version"), True),)


class Resource(Model):
    """A resource a stack manages, identified by (stack, type, name). `probe` reads its actual
    state: a shell command or the name of a workflow function (`probe_kind`)."""

    id = BigAutoField()
    stack = TextField()
    type = TextField()
    name = TextField()
    properties = TextField(default="{}")
    checksum = TextField()
    depends_on = TextField(default="[]")
    probe = TextField(null=True)
    probe_kind = TextField(null=True)
    module = TextField(default="")
    state = TextField(default="active")
    error = TextField(null=True)
    task = TextField(default="")
    workflow = TextField(default="")
    file = TextField(default="")
    run_id = TextField(null=True)
    created_at = DoubleField()
    updated_at = DoubleField()

    class Meta:
        table_name = "resources"
        indexes = ((("stack", "type", "name"), True),)


class DriftDetection(Model):
    """One drift check of a stack: counts and the findings (JSON list)."""

    id = BigAutoField()
    stack = TextField(index=True)
    detected_at = DoubleField()
    run_id = TextField(null=True)
    checked = IntegerField(default=0)
    drifted = IntegerField(default=0)
    errors = IntegerField(default=0)
    report = TextField(default="[]")
    fixed_at = DoubleField(null=True)

    class Meta:
        table_name = "drift_detections"


class StackDependency(Model):
    """`stack` must run after `depends_on`."""

    id = BigAutoField()
    stack = TextField()
    depends_on = TextField()
    created_at = DoubleField()

    class Meta:
        table_name = "stack_dependencies"
        indexes = ((("stack", "depends_on"), True),)
