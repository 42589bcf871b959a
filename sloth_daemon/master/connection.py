"""One agent's Connect stream on the master: Register first, then route what the agent sends.

The reader task hands heartbeats to the registry, output and results to the dispatcher and
`agent exec` output to RemoteExec; the response side drains the agent's outbox. A stream that
ends without Goodbye is a failure (a killed agent's stream ends like any other), so the agent
is unreachable until it comes back or is lost. A protocol
mistake (a first message that is not Register, a second Register, an empty message) ends the
stream with a gRPC status; the master and every other agent go on.

Register's name must be one this connection may claim (agent_identity.py): otherwise the
stream ends with PERMISSION_DENIED, or ALREADY_EXISTS while another connection holds the name
live, and the refusal is audited as `audit.Connect`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.master.agent_identity import AgentIdentity, Claim, NameRefused
from sloth_daemon.master.auth import current_call
from sloth_daemon.master.dispatcher import Dispatcher
from sloth_daemon.master.outbox import Outbox
from sloth_daemon.master.registry import AgentSession, NameTaken, Registry
from sloth_daemon.master.remote_exec import RemoteExec
from sloth_daemon.wire import to_json
from sloth_engine.errors import UsageError

log = logging.getLogger(__name__)


class AgentConnections:
    def __init__(
        self,
        registry: Registry,
        dispatcher: Dispatcher,
        remote_exec: RemoteExec,
        master_id: str,
        identity: AgentIdentity | None = None,
    ) -> None:
        self.registry = registry
        self.dispatcher = dispatcher
        self.remote_exec = remote_exec
        self.master_id = master_id
        self.identity = identity or AgentIdentity(None)

    async def serve(
        self, requests: AsyncIterator[apb.AgentToMaster], context: Any
    ) -> AsyncIterator[apb.MasterToAgent]:
        try:
            first = await anext(aiter(requests))
        except StopAsyncIteration:
            return
        if first.WhichOneof("kind") != "register":
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, "the first message on Connect must be Register"
            )
        outbox: Outbox[apb.MasterToAgent] = Outbox()
        claim = await self._claim(first.register, context)
        try:
            session, _same = self.registry.register(first.register, outbox, context.peer(), claim.credential)
        except UsageError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except NameTaken as exc:
            await self._refuse(context, grpc.StatusCode.ALREADY_EXISTS, str(exc), first.register)
        session.peer = str(context.peer() or "")
        abandon = self.dispatcher.reconnected(session, first.register)
        yield apb.MasterToAgent(
            registered=apb.Registered(master_id=self.master_id, abandon=abandon, agent_token=claim.new_token)
        )
        clean = [False]
        reader = asyncio.create_task(self._read(requests, session, outbox, clean))
        try:
            async for message in outbox.messages():
                yield message
        finally:
            if not reader.done():
                reader.cancel()
            self.registry.disconnected(session, outbox, clean[0])
        if outbox.close_code is not None:
            await context.abort(outbox.close_code, outbox.close_details)

    async def _claim(self, reg: apb.Register, context: Any) -> Claim:
        """What proves this connection may use the name; refused (and audited) otherwise."""
        call = current_call()
        try:
            claim = await self.identity.claim(call.caller if call else None, reg.name.strip())
        except NameRefused as exc:
            await self._refuse(context, grpc.StatusCode.PERMISSION_DENIED, str(exc), reg)
            raise  # not reached: the refusal aborts the call
        if call is not None and claim.token_name:
            call.token = claim.token_name  # the stream lives on the agent's own token from now on
        return claim

    async def _refuse(self, context: Any, code: grpc.StatusCode, why: str, reg: apb.Register) -> None:
        log.warning("agent connection refused: %s", why)
        call = current_call()
        if call is not None:
            await call.refuse(code, why, _short(reg))
        await context.abort(code, why)

    def _facts_reply(self, request: apb.FactsRequest) -> apb.MasterToAgent:
        reply = apb.FactsReply(request_id=request.request_id)
        target = self.registry.get(request.agent)
        if target is None:
            reply.error = f"no agent named '{request.agent}'"
        elif target.facts:
            reply.facts_json = to_json(target.facts)
        return apb.MasterToAgent(facts_reply=reply)

    async def _read(
        self,
        requests: AsyncIterator[apb.AgentToMaster],
        session: AgentSession,
        outbox: Outbox[apb.MasterToAgent],
        clean: list[bool],
    ) -> None:
        try:
            async for message in requests:
                kind = message.WhichOneof("kind")
                if kind == "heartbeat":
                    self.registry.heartbeat(session, message.heartbeat)
                elif kind == "updates":
                    self.registry.seen(session)
                    self.dispatcher.deliver(session, message.updates)
                elif kind == "exec_output":
                    self.remote_exec.deliver(message.exec_output)
                elif kind == "goodbye":
                    clean[0] = True
                elif kind == "facts_request":
                    outbox.put(self._facts_reply(message.facts_request))
                elif kind == "register":
                    outbox.close(
                        grpc.StatusCode.FAILED_PRECONDITION, "Register may be sent only once per stream"
                    )
                    return
                else:
                    outbox.close(grpc.StatusCode.INVALID_ARGUMENT, "empty message on Connect")
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream broke: the agent is unreachable, not gone yet
            log.info("agent %s stream ended: %s", session.name, exc)
        finally:
            outbox.close()


def _short(reg: apb.Register) -> apb.Register:
    """Register as audited: who it claims to be, not its facts."""
    return apb.Register(name=reg.name, instance_id=reg.instance_id, address=reg.address)
