"""MasterService on the wire: decode, call the run service / registry / dispatcher, encode.

Every project error becomes a gRPC status through sloth_daemon.status (one table); anything
else is logged and answered INTERNAL, and the master goes on serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
from sloth_daemon.master.connection import AgentConnections
from sloth_daemon.master.console_rpcs import ConsoleRpcs
from sloth_daemon.master.gateway_rpcs import GatewayRpcs
from sloth_daemon.master.gateway_stacks import GatewayStacks
from sloth_daemon.master.guards import streaming, unary
from sloth_daemon.master.registry import Registry
from sloth_daemon.master.remote_exec import RemoteExec
from sloth_daemon.master.run_pages import logs_page, run_page
from sloth_daemon.master.run_service import RunService
from sloth_daemon.master.stack_rpcs import StackRpcs
from sloth_daemon.master.watch import watch_agents
from sloth_daemon.tracing import from_metadata
from sloth_daemon.wire import (
    event_info_to_proto,
    json_object,
    report_to_proto,
    run_to_proto,
    workflow_info_to_proto,
)
from sloth_engine import run_transition
from sloth_engine.bundle import check as check_bundle
from sloth_engine.errors import NotFound, UsageError
from sloth_engine.run_owner import owner_gone
from sloth_engine.status_words import run_status
from sloth_engine.store.submissions import Submission

log = logging.getLogger(__name__)
MAX_LIST = 1000


class MasterServicer(ConsoleRpcs, StackRpcs, GatewayRpcs, GatewayStacks, mgrpc.MasterServiceServicer):
    """The calls of the console (sloth-tui) live in ConsoleRpcs and StackRpcs, the CLI's command
    groups in GatewayRpcs."""

    def __init__(
        self,
        runs: RunService,
        registry: Registry,
        connections: AgentConnections,
        remote_exec: RemoteExec,
        automation: Any = None,
        store_calls: Any = None,
        auth: bool = False,
    ) -> None:
        self.store_calls = store_calls
        """sloth_daemon.master.store_calls.StoreCalls: agents' state and stack calls."""
        self.auth = auth
        """Calls need a token (--auth): only then does RevealSecret answer (to an admin)."""
        self.automation = automation
        """sloth_daemon.master.automation.Automation: events, schedules, the watched folder."""
        self.runs = runs
        self.registry = registry
        self.connections = connections
        self.remote_exec = remote_exec

    # ---- agents' stream ----------------------------------------------------------------------

    async def Connect(self, request_iterator: Any, context: Any) -> AsyncIterator[apb.MasterToAgent]:  # noqa: N802
        async for message in self.connections.serve(request_iterator, context):
            yield message

    async def StoreCall(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        async for results in self.store_calls.serve(request_iterator, context):
            yield results

    # ---- runs ---------------------------------------------------------------------------------

    @unary
    async def SubmitRun(self, request: mpb.SubmitRunRequest, context: Any) -> mpb.SubmitRunResponse:  # noqa: N802
        if not request.source:
            raise UsageError("SubmitRun needs the workflow file's source")
        sub = Submission(
            path=request.path or "workflow.sloth",
            source=request.source,
            workflow=request.workflow,
            values=json_object(request.values_json, "values"),
            params=json_object(request.params_json, "params"),
            max_parallel=request.max_parallel or None,
            stack=request.stack or None,
            delegate_to=request.delegate_to or None,
            files={f.path: f.source for f in request.files},
        )
        check_bundle(sub.files, sub.source, sub.path)
        if sub.max_parallel is not None and sub.max_parallel < 1:
            raise UsageError("max_parallel must be at least 1")
        plan = await self.runs.submit(sub, trace=from_metadata(context.invocation_metadata()))
        return mpb.SubmitRunResponse(
            runs=[mpb.PlannedRun(run_id=r, workflow=w, tasks=t) for r, w, t in plan.runs]
        )

    @unary
    async def GetRun(self, request: mpb.GetRunRequest, context: Any) -> mpb.RunInfo:  # noqa: N802
        return await asyncio.to_thread(run_page, self.runs.store, request)

    @unary
    async def ListRuns(self, request: mpb.ListRunsRequest, context: Any) -> mpb.ListRunsResponse:  # noqa: N802
        limit = min(MAX_LIST, request.limit or 20)
        await asyncio.to_thread(run_transition.abandon_gone, self.runs.store, owner_gone, self.runs.deliver)
        status = run_status(request.status).value if request.status else None
        rows = await asyncio.to_thread(
            self.runs.store.runs.list_runs, request.workflow or None, status, limit
        )
        return mpb.ListRunsResponse(runs=[run_to_proto(r) for r in rows])

    @unary
    async def CancelRun(self, request: mpb.CancelRunRequest, context: Any) -> mpb.CancelRunResponse:  # noqa: N802
        self.runs.cancel(request.run_id, request.reason, request.force)
        return mpb.CancelRunResponse()

    @unary
    async def GetRunLogs(self, request: mpb.GetRunLogsRequest, context: Any) -> mpb.GetRunLogsResponse:  # noqa: N802
        return await asyncio.to_thread(logs_page, self.runs.store, request)

    @streaming
    async def WatchRun(self, request: mpb.WatchRunRequest, context: Any) -> AsyncIterator[mpb.RunUpdate]:  # noqa: N802
        active = self.runs.active.get(request.run_id)
        if active is not None:
            after = request.after_seq if request.epoch == self.runs.epoch else 0
            async for update in active.feed.follow(after):
                if not request.report_only or update.WhichOneof("kind") == "finished":
                    yield update
            return
        report = await asyncio.to_thread(self.runs.report_of, request.run_id)
        yield mpb.RunUpdate(epoch=self.runs.epoch, seq=1, finished=report_to_proto(report))

    # ---- agents, for clients -------------------------------------------------------------------

    @unary
    async def ListAgents(self, request: mpb.ListAgentsRequest, context: Any) -> mpb.ListAgentsResponse:  # noqa: N802
        agents = sorted(self.registry.agents.values(), key=lambda s: s.name)
        return mpb.ListAgentsResponse(agents=[self.registry.info(s) for s in agents])

    @unary
    async def GetAgent(self, request: mpb.GetAgentRequest, context: Any) -> mpb.AgentInfo:  # noqa: N802
        return self.registry.info(self._agent(request.name))

    @unary
    async def StopAgent(self, request: mpb.StopAgentRequest, context: Any) -> mpb.StopAgentResponse:  # noqa: N802
        self.registry.stop(self._agent(request.name), request.reason or "stopped by an operator")
        return mpb.StopAgentResponse()

    @streaming
    async def ExecOnAgent(
        self, request: mpb.ExecOnAgentRequest, context: Any
    ) -> AsyncIterator[apb.ExecOutput]:  # noqa: N802
        if not request.command.strip():
            raise UsageError("exec needs a command")
        async for out in self.remote_exec.run(request.name, request.command, request.timeout_s):
            yield out

    @streaming
    async def WatchAgents(
        self, request: mpb.WatchAgentsRequest, context: Any
    ) -> AsyncIterator[mpb.AgentInfo]:  # noqa: N802
        if request.name:
            self._agent(request.name)
        async for info in watch_agents(self.registry, request.name):
            yield info

    # ---- events, schedules, workflows ---------------------------------------------------------

    @unary
    async def ListEvents(self, request: mpb.ListEventsRequest, context: Any) -> mpb.ListEventsResponse:  # noqa: N802
        limit = min(MAX_LIST, request.limit or 50)
        rows = await self.automation.list_events(
            request.type_prefix or None, request.since or None, request.stack or None, limit
        )
        return mpb.ListEventsResponse(events=[event_info_to_proto(e.to_dict()) for e in rows])

    @streaming
    async def WatchEvents(
        self, request: mpb.WatchEventsRequest, context: Any
    ) -> AsyncIterator[mpb.EventInfo]:  # noqa: N802
        async for event in self.automation.watch_events(request.type_prefix or None, request.stack or None):
            yield event_info_to_proto(event)

    @unary
    async def FireSchedule(self, request: mpb.FireScheduleRequest, context: Any) -> mpb.FireScheduleResponse:  # noqa: N802
        return mpb.FireScheduleResponse(run_ids=await self.automation.fire_schedule(request.name))

    @unary
    async def ListWorkflows(
        self, request: mpb.ListWorkflowsRequest, context: Any
    ) -> mpb.ListWorkflowsResponse:  # noqa: N802
        rows = self.automation.workflows()
        return mpb.ListWorkflowsResponse(workflows=[workflow_info_to_proto(r) for r in rows])

    def _agent(self, name: str) -> Any:
        session = self.registry.get(name)
        if session is None:
            raise NotFound(f"no agent named '{name}'")
        return session
