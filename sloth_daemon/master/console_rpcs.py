"""MasterService calls for the console (sloth-tui): thin reads and steers of the store.

A mixin of MasterServicer: each call decodes, calls the engine's store functions (on a
thread, the store blocks), and encodes. Project errors become gRPC statuses through the one
table of sloth_daemon.status, as in the servicer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from sloth_daemon.errors import Rejected
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.master.guards import unary
from sloth_daemon.wire import to_json
from sloth_engine.errors import NotFound, UsageError
from sloth_engine.secrets.vault import SecretVault
from sloth_engine.spec import RunStatus, WorkflowSpec
from sloth_engine.stacks import Stacks
from sloth_engine.store import Store
from sloth_engine.store.hooks import HookStore
from sloth_engine.store.schedules import ScheduleStore

log = logging.getLogger(__name__)

FOREVER = 253402300799.0
"""A lock held until released (the stacks' expiry), sent as 0."""
GRAPHS_KEPT = 64
"""Task graphs of finished runs kept in memory (loading a file again costs a Lua runtime)."""


def graph_of(run_id: str, spec: WorkflowSpec) -> mpb.RunGraph:
    nodes = [
        mpb.TaskNode(
            name=t.name,
            depends_on=list(t.depends_on),
            placement=t.placement.describe(),
            description=t.description or "",
        )
        for t in spec.tasks.values()
    ]
    return mpb.RunGraph(run_id=run_id, workflow=spec.name, tasks=nodes)


def lock_entry(kind: str, info: Any) -> mpb.LockEntry:
    expires = 0.0 if info.expires_at >= FOREVER - 1 else info.expires_at
    return mpb.LockEntry(
        kind=kind,
        name=info.name,
        holder=info.holder,
        token=int(info.token),
        acquired_at=info.acquired_at,
        expires_at=expires,
        reason=info.reason or "",
    )


class ConsoleRpcs:
    """Runs' graphs and re-runs, watched sources, agents' tasks, state, locks, schedules,
    hooks and secret names. Uses the servicer's `runs`, `registry` and `automation`."""

    runs: Any
    registry: Any
    automation: Any

    def _store(self) -> Store:
        store: Store = self.runs.store
        return store

    # ---- runs and workflows -------------------------------------------------------------

    @unary
    async def GetRunGraph(self, request: mpb.GetRunRequest, context: Any) -> mpb.RunGraph:  # noqa: N802
        active = self.runs.active.get(request.run_id)
        if active is not None:
            return graph_of(request.run_id, active.spec)
        graphs = self.__dict__.setdefault("_graphs", OrderedDict())
        if request.run_id in graphs:
            return graphs[request.run_id]
        run = await asyncio.to_thread(self.runs.get, request.run_id)
        sub = await asyncio.to_thread(self.runs.submissions.get, request.run_id)
        if sub is None:  # a run this master did not submit: no source to read the graph from
            return mpb.RunGraph(run_id=request.run_id, workflow=run["workflow"])
        graph = await asyncio.to_thread(self._load_graph, request.run_id, sub, run["workflow"])
        graphs[request.run_id] = graph
        while len(graphs) > GRAPHS_KEPT:
            graphs.popitem(last=False)
        return graph

    @unary
    async def RetryRun(self, request: mpb.RetryRunRequest, context: Any) -> mpb.SubmitRunResponse:  # noqa: N802
        """Run a finished run's workflow again: all of it, or (failed_only) its failed and
        skipped tasks, reusing the outputs of those that succeeded (RunService.retry)."""
        run = await asyncio.to_thread(self.runs.get, request.run_id)
        if RunStatus(run["status"]) is RunStatus.RUNNING:
            raise Rejected(f"run {request.run_id} is still running")
        catalog = getattr(self.automation, "catalog", None)
        current = catalog.source_for(run["file"]) if catalog is not None and run.get("file") else None
        plan = await self.runs.retry(request.run_id, request.failed_only, current)
        return mpb.SubmitRunResponse(
            runs=[mpb.PlannedRun(run_id=r, workflow=w, tasks=t) for r, w, t in plan.runs]
        )

    @unary
    async def GetWorkflowSource(  # noqa: N802
        self, request: mpb.GetWorkflowSourceRequest, context: Any
    ) -> mpb.WorkflowSource:
        catalog = getattr(self.automation, "catalog", None)
        if catalog is None:
            raise UsageError("this master watches no workflow folder (start it with --watch DIR)")
        source = catalog.source_for(request.file)
        if source is None:
            raise NotFound(f"'{request.file}' is not a loaded file of the watched folder")
        return mpb.WorkflowSource(file=request.file, source=source)

    @unary
    async def ListAgentTasks(  # noqa: N802
        self, request: mpb.GetAgentRequest, context: Any
    ) -> mpb.ListAgentTasksResponse:
        session = self.registry.get(request.name)
        if session is None:
            raise NotFound(f"no agent named '{request.name}'")
        tasks = [mpb.AgentTask(run_id=r, task=t) for r, t in sorted(session.pending)]
        return mpb.ListAgentTasksResponse(tasks=tasks)

    # ---- state and locks ------------------------------------------------------------------

    @unary
    async def ListLocks(self, request: mpb.ListLocksRequest, context: Any) -> mpb.ListLocksResponse:  # noqa: N802
        def read() -> list[mpb.LockEntry]:
            state = [lock_entry("state", i) for i in self._store().state.locks()]
            return state + [lock_entry("stack", i) for i in self._stacks().locks.table.list()]

        return mpb.ListLocksResponse(locks=await asyncio.to_thread(read))

    @unary
    async def ReleaseLock(self, request: mpb.ReleaseLockRequest, context: Any) -> mpb.ReleaseLockResponse:  # noqa: N802
        await asyncio.to_thread(self._release, request)
        return mpb.ReleaseLockResponse()

    def _release(self, request: mpb.ReleaseLockRequest) -> None:
        if request.kind not in ("state", "stack"):
            raise UsageError("a lock's kind is 'state' or 'stack'")
        if not request.force and not request.token:
            raise UsageError("release needs the grant's token (or force)")
        if request.kind == "state":
            table = self._store().state
            current = table.lock_info(request.name)
            released = current is not None and table.unlock(
                request.name, None if request.force else int(request.token), force=request.force
            )
        else:
            locks, mark = self._stacks().locks, self._store().events.last_id()
            current = locks.status(request.name)
            by = request.by or "console"
            if request.force:
                released = locks.force_release(request.name, by, "released from the console") is not None
            else:
                released = current is not None and locks.release(request.name, int(request.token))
            self._announce_stack_events(mark)
        if current is None:
            raise NotFound(f"{request.kind} lock '{request.name}' is not held")
        if not released:
            raise Rejected(
                f"{request.kind} lock '{request.name}' changed hands (now held by {current.holder})"
            )

    @unary
    async def ListState(self, request: mpb.ListStateRequest, context: Any) -> mpb.ListStateResponse:  # noqa: N802
        def read() -> mpb.ListStateResponse:
            state = self._store().state
            names = state.namespaces()
            limit = min(5000, request.limit or 500)
            items: list[mpb.StateItem] = []
            for ns in [request.namespace] if request.namespace else names:
                for e in state.entries(ns, request.prefix):
                    if len(items) >= limit:
                        break
                    items.append(
                        mpb.StateItem(
                            namespace=e.namespace,
                            key=e.key,
                            value_json=to_json(e.value),
                            value_type=e.value_type,
                            version=int(e.version),
                            expires_at=e.expires_at or 0.0,
                            owner=e.owner,
                            updated_at=e.updated_at or 0.0,
                        )
                    )
            return mpb.ListStateResponse(namespaces=names, items=items)

        return await asyncio.to_thread(read)

    # ---- schedules, hooks, secrets --------------------------------------------------------

    @unary
    async def ListSchedules(  # noqa: N802
        self, request: mpb.ListSchedulesRequest, context: Any
    ) -> mpb.ListSchedulesResponse:
        rows = await asyncio.to_thread(ScheduleStore(self._store()).list)
        return mpb.ListSchedulesResponse(schedules=[_schedule(s) for s in rows])

    @unary
    async def SetScheduleEnabled(  # noqa: N802
        self, request: mpb.SetScheduleEnabledRequest, context: Any
    ) -> mpb.ScheduleInfo:
        schedules = ScheduleStore(self._store())
        await asyncio.to_thread(schedules.set_enabled, request.name, request.enabled)
        kind = "schedule.enabled" if request.enabled else "schedule.disabled"
        self.runs.bus.publish(kind, {"schedule": request.name}, source="console")
        return _schedule(await asyncio.to_thread(schedules.get, request.name))

    @unary
    async def ListHooks(self, request: mpb.ListHooksRequest, context: Any) -> mpb.ListHooksResponse:  # noqa: N802

        def read() -> list[mpb.HookInfo]:
            hooks = HookStore(self._store())
            last = {row["hook"]: row for row in hooks.executions(limit=1000)}
            return [_hook(h, last.get(h.name)) for h in hooks.list()]

        return mpb.ListHooksResponse(hooks=await asyncio.to_thread(read))

    @unary
    async def ListSecretNames(  # noqa: N802
        self, request: mpb.ListSecretNamesRequest, context: Any
    ) -> mpb.ListSecretNamesResponse:
        rows = await asyncio.to_thread(SecretVault(self._store()).list, request.stack or None)
        names = [
            mpb.SecretName(stack=s.stack, name=s.name, created_at=s.created_at, updated_at=s.updated_at)
            for s in rows
        ]
        return mpb.ListSecretNamesResponse(secrets=names)

    # ---- shared ---------------------------------------------------------------------------

    def _load_graph(self, run_id: str, sub: Any, workflow: str) -> mpb.RunGraph:
        """Load the submitted file as the run service does (same copy, same imports)."""
        _request, loaded = self.runs._load(replace(sub, workflow=workflow))
        spec = loaded.spec.get(workflow)
        if spec is None:
            return mpb.RunGraph(run_id=run_id, workflow=workflow)
        return graph_of(run_id, self.runs.placed(spec, sub, refuse=False))  # tasks shown on `master`

    def _stacks(self) -> Any:
        stacks = self.__dict__.get("_stacks_api")
        if stacks is None:
            stacks = self.__dict__["_stacks_api"] = Stacks(self._store())
        return stacks

    def _announce_stack_events(self, after_id: int) -> None:
        """Stack operations write their events straight to the store; hand the new ones to the
        bus so live watchers (the console's event tail) see them too."""
        bus = getattr(self.runs, "bus", None)
        if bus is None:
            return
        for row in self._store().events.after(after_id, limit=500):
            if row.source == "stacks":
                bus.deliver(row.to_dict())


def _schedule(s: Any) -> mpb.ScheduleInfo:
    return mpb.ScheduleInfo(
        name=s.name,
        cron=s.cron,
        file=s.file,
        workflow=s.workflow or "",
        tz=s.tz or "",
        overlap=s.overlap,
        catch_up=s.catch_up,
        enabled=bool(s.enabled),
        next_fire_at=s.next_fire_at or 0.0,
        last_fire_at=s.last_fire_at or 0.0,
        last_run_id=s.last_run_id or "",
        values_file=s.values_file or "",
        created_at=s.created_at or 0.0,
        updated_at=s.updated_at or 0.0,
    )


def _hook(h: Any, last: dict[str, Any] | None) -> mpb.HookInfo:
    return mpb.HookInfo(
        name=h.name,
        event_types=list(h.event_types),
        stack=h.stack or "",
        path=h.path or "",
        enabled=bool(h.enabled),
        timeout_s=h.timeout_s,
        last_outcome=(last or {}).get("outcome") or "",
        last_run_at=(last or {}).get("started_at") or 0.0,
        created_at=h.created_at or 0.0,
        updated_at=h.updated_at or 0.0,
    )
