"""Running the task attempts a master assigns, with the engine's task runner.

A master sends each workflow file (a bundle: path, source, values) once per connection. The
agent loads it once and keeps the loaded file and its Lua workers for the attempts that follow,
so an attempt costs a call into a warm runtime rather than a fresh load of the file (which is
what `sloth_engine.run.run_delegated_attempt` does for a single attempt).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_engine.dsl import LoadedFile, load_file
from sloth_engine.errors import DslError
from sloth_engine.executor.journal import Journal
from sloth_engine.executor.lua_pool import LuaPool
from sloth_engine.executor.results import AttemptOutcome, RunEvent, TaskResult
from sloth_engine.executor.task_runner import RunContext, TaskRunner
from sloth_engine.lua.watchdog import StuckLua
from sloth_engine.run import RunRequest, module_env
from sloth_engine.secrets import Redactor
from sloth_engine.spec import TaskStatus

MAX_BUNDLES = 16
"""Workflow files kept loaded; the least recently used one is dropped beyond this."""

LineSink = Callable[[str, str], None]


@dataclass
class LoadedBundle:
    key: str
    path: str
    first: LoadedFile
    lua: LuaPool


class Attempts:
    """The bundles this agent knows and the attempts it runs with them."""

    def __init__(
        self,
        home: Path,
        cwd: Path,
        workers: int,
        agent_facts: Callable[[str], dict[str, Any]] | None = None,
        on_stuck: Callable[[StuckLua], None] | None = None,
    ) -> None:
        self.port: Any = None
        """The StorePort tasks use for `state` and `stack` (calls forwarded to the master)."""
        self.on_stuck = on_stuck
        """Told (on a watchdog thread) when a Lua thread cannot be stopped."""
        self.agent_facts = agent_facts
        """Other agents' facts, asked of the master (the `facts` module's `{ agent = name }`)."""
        self.home = home
        self.cwd = cwd
        self.workers = max(1, workers)
        self._sources: dict[str, apb.Bundle] = {}
        self._loaded: OrderedDict[str, LoadedBundle] = OrderedDict()
        self._loading: dict[str, asyncio.Future[LoadedBundle]] = {}
        self._secrets: dict[str, tuple[int, dict[str, str]]] = {}
        """Granted secrets by run id, with how many of its attempts run here: held in memory
        only, for as long as an attempt of the run runs."""

    def learn(self, bundle: apb.Bundle) -> None:
        """A bundle the master sent along with an assignment."""
        self._sources[bundle.key] = bundle

    def knows(self, key: str) -> bool:
        return key in self._sources or key in self._loaded

    async def run(self, assign: apb.AssignTask, sink: LineSink) -> AttemptOutcome:
        try:
            bundle = await self._bundle(assign.bundle_key)
        except DslError as exc:
            return AttemptOutcome(TaskStatus.FAILED, str(exc), str(exc))
        except KeyError:
            text = f"the master never sent workflow bundle {assign.bundle_key}"
            return AttemptOutcome(TaskStatus.FAILED, text, text)
        workflow = bundle.first.spec.get(assign.workflow)
        task = assign.ref.task
        if workflow is None or task not in workflow.tasks:
            text = f"workflow '{assign.workflow}' has no task '{task}'"
            return AttemptOutcome(TaskStatus.FAILED, text, text)
        journal = Journal(assign.ref.run_id, workflow.name, None)
        redactor = Redactor(assign.secrets.values()) if assign.secrets else None
        journal.redactor = redactor
        journal.events_from_output = False  # event.dispatch lines go to the master as they are
        journal.bind(asyncio.get_running_loop())
        journal.listeners.append(lambda event: _forward(event, sink))
        ctx = RunContext(
            run_id=assign.ref.run_id,
            workflow=workflow,
            cwd=Path(workflow.workdir).expanduser() if workflow.workdir else self.cwd,
            run_dir=self.home / "runs" / assign.ref.run_id,
        )
        spec = workflow.tasks[task]
        cwd = Path(spec.workdir).expanduser() if spec.workdir else ctx.cwd
        runner = TaskRunner(ctx, journal, bundle.lua)
        result = TaskResult(task, attempts=max(1, assign.ref.attempt))
        params = _object(assign.params_json)
        inputs = _object(assign.inputs_json)
        self._hold_secrets(assign.ref.run_id, dict(assign.secrets))
        try:
            outcome = await runner.execute_here(spec, result, cwd, params, inputs)
        finally:
            self._drop_secrets(assign.ref.run_id)
            journal.flush()
        if redactor is not None:
            outcome = dataclasses.replace(
                outcome,
                message=redactor.text(outcome.message),
                error=redactor.text(outcome.error),
                outputs=redactor.value(outcome.outputs),
            )
        return outcome

    def secrets_of(self, run_id: str) -> dict[str, str]:
        """What the `secrets` global of a task of `run_id` shows."""
        held = self._secrets.get(run_id)
        return held[1] if held else {}

    def _hold_secrets(self, run_id: str, secrets: dict[str, str]) -> None:
        count, _old = self._secrets.get(run_id, (0, {}))
        self._secrets[run_id] = (count + 1, secrets)

    def _drop_secrets(self, run_id: str) -> None:
        count, secrets = self._secrets.get(run_id, (1, {}))
        if count <= 1:
            self._secrets.pop(run_id, None)
        else:
            self._secrets[run_id] = (count - 1, secrets)

    async def _bundle(self, key: str) -> LoadedBundle:
        loaded = self._loaded.get(key)
        if loaded is not None:
            self._loaded.move_to_end(key)
            return loaded
        waiting = self._loading.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        source = self._sources[key]
        future: asyncio.Future[LoadedBundle] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            loaded = await asyncio.to_thread(self._load, source)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._loading.pop(key, None)
        future.set_result(loaded)
        self._loaded[key] = loaded
        while len(self._loaded) > MAX_BUNDLES:
            _, old = self._loaded.popitem(last=False)
            old.lua.close()
        return loaded

    def _load(self, bundle: apb.Bundle) -> LoadedBundle:
        values = json.loads(bundle.values_json) if bundle.values_json else {}
        request = RunRequest(
            path=bundle.path, values=values, home=self.home, cwd=self.cwd, agent_facts=self.agent_facts
        )

        def loader() -> LoadedFile:
            env = module_env(request, None, lambda kind, data: None)
            env.events_via_output = True  # the master turns them into events of the run
            env.port = self.port
            env.secrets_of = self.secrets_of
            env.files = {f.path: f.source for f in bundle.files}
            if bundle.stack:
                env.stack = env.namespace = bundle.stack
            return load_file(bundle.path, values=values, env=env, source=bundle.source)

        first = loader()
        # Own thread: Lua computing in a task must not hold the agent's loop (its heartbeats).
        pool = LuaPool(loader, self.workers, first, own_thread=True, on_stuck=self.on_stuck)
        return LoadedBundle(bundle.key, bundle.path, first, pool)

    def close(self) -> None:
        for loaded in self._loaded.values():
            loaded.lua.close()
        self._loaded.clear()


def _forward(event: RunEvent, sink: LineSink) -> None:
    if event.kind == "task.log":
        sink(event.status, str(event.data.get("line", "")))


def _object(data: bytes) -> dict[str, Any]:
    value = json.loads(data) if data else {}
    return value if isinstance(value, dict) else {}
