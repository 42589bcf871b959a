"""Running the task attempts a master assigns, with the engine's attempt runner.

A master sends each workflow file (a bundle: path, source, values) once per connection. The
agent loads it once into an `AttemptRunner` (sloth_engine/executor/attempt.py) and keeps it,
with its Lua workers, for the attempts that follow, so an attempt costs a call into a warm
runtime rather than a fresh load of the file.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_engine.errors import DslError
from sloth_engine.executor.attempt import AttemptJob, AttemptRunner, LineSink, WorkflowSource
from sloth_engine.executor.results import AttemptOutcome
from sloth_engine.lua.watchdog import StuckLua
from sloth_engine.spec import TaskStatus

MAX_BUNDLES = 16
"""Workflow files kept loaded; the least recently used one is dropped beyond this."""


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
        self._loaded: OrderedDict[str, AttemptRunner] = OrderedDict()
        self._loading: dict[str, asyncio.Future[AttemptRunner]] = {}

    def learn(self, bundle: apb.Bundle) -> None:
        """A bundle the master sent along with an assignment."""
        self._sources[bundle.key] = bundle

    def knows(self, key: str) -> bool:
        return key in self._sources or key in self._loaded

    async def run(self, assign: apb.AssignTask, sink: LineSink) -> AttemptOutcome:
        try:
            runner = await self._bundle(assign.bundle_key)
        except DslError as exc:
            return AttemptOutcome(TaskStatus.FAILED, str(exc), str(exc))
        except KeyError:
            text = f"the master never sent workflow bundle {assign.bundle_key}"
            return AttemptOutcome(TaskStatus.FAILED, text, text)
        job = AttemptJob(
            run_id=assign.ref.run_id,
            workflow=assign.workflow,
            task=assign.ref.task,
            attempt=max(1, assign.ref.attempt),
            params=_object(assign.params_json),
            inputs=_object(assign.inputs_json),
            secrets=dict(assign.secrets),
        )
        return await runner.run(job, sink)

    async def _bundle(self, key: str) -> AttemptRunner:
        loaded = self._loaded.get(key)
        if loaded is not None:
            self._loaded.move_to_end(key)
            return loaded
        waiting = self._loading.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        source = self._sources[key]
        future: asyncio.Future[AttemptRunner] = asyncio.get_running_loop().create_future()
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
            old.close()
        return loaded

    def _load(self, bundle: apb.Bundle) -> AttemptRunner:
        source = WorkflowSource(
            path=bundle.path,
            source=bundle.source,
            values=json.loads(bundle.values_json) if bundle.values_json else {},
            stack=bundle.stack or None,
            files={f.path: f.source for f in bundle.files},
            port=self.port,
            agent_facts=self.agent_facts,
        )
        return AttemptRunner(
            source, home=self.home, cwd=self.cwd, workers=self.workers, on_stuck=self.on_stuck
        )

    def close(self) -> None:
        for loaded in self._loaded.values():
            loaded.close()
        self._loaded.clear()


def _object(data: bytes) -> dict[str, Any]:
    value = json.loads(data) if data else {}
    return value if isinstance(value, dict) else {}
