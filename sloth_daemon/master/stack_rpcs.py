"""MasterService calls on stacks for the console: documents of the engine's stack API as JSON.

A mixin of MasterServicer (after ConsoleRpcs, whose helpers it uses). Drift fixes run in the
master as runs of the stack (the engine's `run_fix`), their events on the master's bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.master.guards import unary
from sloth_daemon.master.run_feed import RunFeed
from sloth_daemon.wire import to_json
from sloth_engine.errors import UsageError
from sloth_engine.stacks.drift_fix import fixed_after, plan_fix, run_fix
from sloth_engine.stacks.locks import lock_dict
from sloth_engine.store import Store

log = logging.getLogger(__name__)


def _doc(value: Any) -> mpb.StackDoc:
    return mpb.StackDoc(doc_json=to_json(value))


class StackRpcs:
    runs: Any
    _stacks: Any
    _store: Callable[[], Store]
    _announce_stack_events: Any

    @unary
    async def ListStacks(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        def read() -> dict[str, Any]:
            stacks = self._stacks()
            rows = []
            for info in stacks.catalog.list():
                lock = stacks.locks.status(info.name)
                row = {**info.to_dict(), "resources": stacks.resources.count(info.name)}
                rows.append({**row, "locked_by": lock.holder if lock else None})
            return {"stacks": rows}

        return _doc(await asyncio.to_thread(read))

    @unary
    async def GetStack(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        def read() -> dict[str, Any]:
            stacks, name = self._stacks(), _name(request)
            info = stacks.catalog.require(name)
            drift = stacks.drift.latest(name)
            graph = stacks.deps.graph()
            return {
                "stack": info.to_dict(),
                "resources": [r.to_dict() for r in stacks.resources.list(name)],
                "snapshots": [s.to_dict() for s in stacks.snapshots.list(name)],
                "lock": lock_dict(stacks.locks.status(name)),
                "drift": drift.to_dict() if drift is not None else None,
                "deps": stacks.deps.describe(name),
                "graph": {k: sorted(v) for k, v in sorted(graph.items())},
            }

        return _doc(await asyncio.to_thread(read))

    @unary
    async def GetSnapshot(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        def read() -> dict[str, Any]:
            snapshots, name = self._stacks().snapshots, _name(request)
            version = (request.version or "current").lower()
            snap = snapshots.current(name) if version == "current" else snapshots.get(name, version)
            info = {**snap.info.to_dict(), "label": snap.info.label if snap.info.version else "current"}
            return {"info": info, "resources": [r.to_dict() for r in snap.resources], "outputs": snap.outputs}

        return _doc(await asyncio.to_thread(read))

    @unary
    async def CreateSnapshot(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        def write() -> dict[str, Any]:
            stacks, name = self._stacks(), _name(request)
            stacks.catalog.require(name)
            mark = self._store().events.last_id()
            info = stacks.snapshots.create(name, request.description, request.by or "console")
            self._announce_stack_events(mark)
            return info.to_dict()

        return _doc(await asyncio.to_thread(write))

    @unary
    async def RestoreSnapshot(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        def write() -> dict[str, Any]:
            stacks, name = self._stacks(), _name(request)
            if not request.version:
                raise UsageError("restore needs a snapshot version")
            stacks.locks.require_free(name)
            mark = self._store().events.last_id()
            info = stacks.snapshots.restore(name, request.version, request.by or "console")
            self._announce_stack_events(mark)
            return info.to_dict()

        return _doc(await asyncio.to_thread(write))

    @unary
    async def DetectDrift(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        def detect() -> dict[str, Any]:
            mark = self._store().events.last_id()
            report = self._stacks().drift.detect(_name(request))
            self._announce_stack_events(mark)
            return report.to_dict()

        return _doc(await asyncio.to_thread(detect))

    @unary
    async def FixDrift(self, request: mpb.StackRequest, context: Any) -> mpb.StackDoc:  # noqa: N802
        """Plan the fix, start one run per group in the master, answer with their run ids."""

        name = _name(request)
        stacks = self._stacks()
        plan = await asyncio.to_thread(plan_fix, stacks, name)
        run_ids: list[str] = []
        jobs: list[asyncio.Task[Any]] = []
        for group in plan.groups:
            run_id, job = await self._start_fix(stacks, name, group)
            run_ids.append(run_id)
            jobs.append(job)
        if plan.groups:
            _keep(self, asyncio.create_task(self._settle_fix(stacks, name, plan, run_ids, jobs)))
        return _doc(
            {
                "stack": name,
                "groups": [
                    {
                        "file": g.file,
                        "workflow": g.workflow,
                        "tasks": g.tasks,
                        "fixes": [f.resource for f in g.findings],
                    }
                    for g in plan.groups
                ],
                "unfixable": [{"resource": f.resource, "why": why} for f, why in plan.unfixable],
                "run_ids": run_ids,
            }
        )

    async def _start_fix(self, stacks: Any, name: str, group: Any) -> tuple[str, asyncio.Task[Any]]:
        """Start the group's run in the background; its run id once it is created, and its job."""

        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        runs = self.runs
        feed = RunFeed(runs.epoch)  # followed with WatchRun like a submitted run's
        listeners: list[Any] = [feed, runs.run_metrics.listen]
        if runs.bus is not None:
            listeners.append(runs.bus.journal_listener(name))

        def on_start(_part: Any, run_id: str) -> None:
            if not started.done():
                started.set_result(run_id)

        job = _keep(
            self,
            asyncio.create_task(
                run_fix(stacks, name, group, listeners, on_start, on_run=lambda run: runs.adopt(run, feed))
            ),
        )

        def ended(task: asyncio.Task[Any]) -> None:
            exc = task.exception() if not task.cancelled() else None
            if started.done():
                result = None if exc is not None or task.cancelled() else task.result()
                runs.adopted_ended(started.result(), result, str(exc or "the fix was cancelled"))
            else:
                started.set_exception(exc or UsageError("the fix did not start"))

        job.add_done_callback(ended)
        return await started, job

    async def _settle_fix(
        self, stacks: Any, name: str, plan: Any, run_ids: list[str], jobs: list[asyncio.Task[Any]]
    ) -> None:
        """Once the fix runs ended: detect again and mark what they fixed (as `drift fix` does)."""

        await asyncio.gather(*jobs, return_exceptions=True)
        try:
            _after, fixed, still = await asyncio.to_thread(fixed_after, stacks, name, plan)
            if fixed:
                await asyncio.to_thread(stacks.drift.mark_fixed, plan.report, fixed, run_ids, not still)
        except Exception:  # the runs are recorded; only the report's "fixed" mark is missing
            log.exception("drift fix of stack %s: cannot record what was fixed", name)


def _keep(owner: Any, job: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Hold a reference to a background job until it ends (the loop keeps only weak ones)."""
    jobs: set[asyncio.Task[Any]] = owner.__dict__.setdefault("_fix_jobs", set())
    jobs.add(job)
    job.add_done_callback(jobs.discard)
    return job


def _name(request: mpb.StackRequest) -> str:
    if not request.stack:
        raise UsageError("the call needs a stack name")
    return request.stack
