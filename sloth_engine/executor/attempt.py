"""One attempt of one task, away from the run that owns it: what an agent and a master's host
child run.

The run (on a master) keeps what surrounds an attempt: conditions, retries, hooks, the
journal in the store. Here the attempt's command runs on this machine through the same
`TaskCalls.attempt` a local run's TaskRunner calls; its output lines go to a sink as they
come (secrets hidden) and its outcome comes back with the secrets hidden too.

An `AttemptRunner` loads its workflow file once and keeps it, with its Lua workers, for the
attempts that follow: an agent keeps one per bundle, a master's host child makes one for its
single attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_engine.dsl import LoadedFile, load_file
from sloth_engine.lua.watchdog import StuckLua
from sloth_engine.modules import ModuleEnv
from sloth_engine.secrets import Redactor
from sloth_engine.spec import TaskStatus

from .calls import TaskCalls
from .journal import Journal
from .lua_pool import LuaPool
from .results import AttemptOutcome, RunEvent, TaskResult

if TYPE_CHECKING:
    from sloth_engine.store import Store

LineSink = Callable[[str, str], None]
"""Receives (stream, line) of the attempt's output, on the event loop."""


@dataclass
class WorkflowSource:
    """A workflow file as an attempt runner loads it."""

    path: str
    """The file's name (in messages); read from disk unless `source` is given."""
    source: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    stack: str | None = None
    """The stack of the run: the default state namespace and the `stack` module's stack."""
    files: dict[str, str] | None = None
    """A bundle's other files by relative path (`import`/`require` read these, not the disk)."""
    check_mode: bool = False
    """--check: commands and hooks are reported, modules change nothing."""
    store: Store | None = None
    """The store the `state` and `stack` modules use, or None: `port` (or none at all)."""
    port: Any = None
    """The StorePort of the `state` and `stack` modules (an agent: calls to the master)."""
    agent_facts: Callable[[str], dict[str, Any]] | None = None
    """Another machine's facts by agent name (the `facts` module's `{ agent = name }`)."""


@dataclass
class AttemptJob:
    """One attempt to run: which task of which run, with what."""

    run_id: str
    workflow: str
    task: str
    attempt: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    cwd: Path | None = None
    """Where the command runs; None: the task's workdir, else the workflow's, else the runner's."""
    secrets: dict[str, str] = field(default_factory=dict)
    """The run's granted secrets: the `secrets` global of this attempt, hidden in what it says."""


class AttemptRunner:
    """A loaded workflow file and its Lua workers, running single attempts of its tasks.

    Constructing one loads the file (blocking: call it on a thread); raises DslError when the
    file does not load.
    """

    def __init__(
        self,
        source: WorkflowSource,
        *,
        home: Path,
        cwd: Path,
        workers: int = 1,
        on_stuck: Callable[[StuckLua], None] | None = None,
    ) -> None:
        self.source = source
        self.home = home
        self.cwd = cwd
        self._secrets: dict[str, tuple[int, dict[str, str]]] = {}
        """Granted secrets by run id, with how many of its attempts run now: held in memory
        only, for as long as an attempt of the run runs."""
        self.loaded = self._load()
        # Own thread: Lua computing in a task must not hold the caller's loop (its heartbeats).
        self.lua = LuaPool(self._load, max(1, workers), self.loaded, own_thread=True, on_stuck=on_stuck)

    def _load(self) -> LoadedFile:
        source = self.source
        env = ModuleEnv(
            values=source.values,
            store=source.store,
            namespace=source.stack or "default",
            stack=source.stack,
            check_mode=source.check_mode,
        )
        env.agent_facts = source.agent_facts
        env.port = source.port
        env.events_via_output = True  # the run's owner turns them into events of the run
        env.secrets_of = self.secrets_of
        env.files = source.files
        return load_file(source.path, values=source.values, env=env, source=source.source)

    def secrets_of(self, run_id: str) -> dict[str, str]:
        """What the `secrets` global of a task of `run_id` shows."""
        held = self._secrets.get(run_id)
        return held[1] if held else {}

    async def run(self, job: AttemptJob, sink: LineSink) -> AttemptOutcome:
        """Run the attempt to its end (its timeout, a cancel); never raises for the task's
        own failures: they are the outcome."""
        workflow = self.loaded.spec.get(job.workflow)
        if workflow is None or job.task not in workflow.tasks:
            text = f"workflow '{job.workflow}' has no task '{job.task}'"
            return AttemptOutcome(TaskStatus.FAILED, text, text)
        redactor = Redactor(job.secrets.values()) if job.secrets else None
        journal = Journal(job.run_id, workflow.name, None)
        journal.redactor = redactor  # lines are hidden, outputs holding a secret refused
        journal.events_from_output = False  # event lines travel to the run's owner as they are
        journal.bind(asyncio.get_running_loop())
        journal.listeners.append(lambda event: _forward(event, sink))
        spec = workflow.tasks[job.task]
        run_cwd = job.cwd or (Path(workflow.workdir).expanduser() if workflow.workdir else self.cwd)
        cwd = job.cwd or (Path(spec.workdir).expanduser() if spec.workdir else run_cwd)
        calls = TaskCalls(job.run_id, workflow, run_cwd, journal, self.lua, self.source.check_mode)
        result = TaskResult(job.task, attempts=max(1, job.attempt))
        self._hold_secrets(job.run_id, job.secrets)
        try:
            outcome = await calls.attempt(spec, result, cwd, job.params, job.inputs)
        finally:
            self._drop_secrets(job.run_id)
            journal.flush()
            calls.close()
        if redactor is None:
            return outcome
        return dataclasses.replace(
            outcome,
            message=redactor.text(outcome.message),
            error=redactor.text(outcome.error),
            outputs=redactor.value(outcome.outputs),
        )

    def _hold_secrets(self, run_id: str, secrets: dict[str, str]) -> None:
        count, _old = self._secrets.get(run_id, (0, {}))
        self._secrets[run_id] = (count + 1, secrets)

    def _drop_secrets(self, run_id: str) -> None:
        count, secrets = self._secrets.get(run_id, (1, {}))
        if count <= 1:
            self._secrets.pop(run_id, None)
        else:
            self._secrets[run_id] = (count - 1, secrets)

    def close(self) -> None:
        self.lua.close()


def _forward(event: RunEvent, sink: LineSink) -> None:
    if event.kind == "task.log":
        sink(event.status, str(event.data.get("line", "")))
