"""`agent exec NAME -- CMD`: a command run on an agent, its output streamed back as it comes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

from sloth_daemon.errors import AgentNotConnected
from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.master.registry import AgentSession, Registry
from sloth_engine.errors import NotFound
from sloth_engine.store.agents import AgentStatus


class RemoteExec:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._streams: dict[str, tuple[str, asyncio.Queue[apb.ExecOutput]]] = {}
        registry.on_lost.append(self._agent_gone)

    async def run(self, name: str, command: str, timeout: float) -> AsyncIterator[apb.ExecOutput]:
        session = self._session(name)
        exec_id = uuid.uuid4().hex
        queue: asyncio.Queue[apb.ExecOutput] = asyncio.Queue()
        self._streams[exec_id] = (name, queue)
        session.send(
            apb.MasterToAgent(exec=apb.ExecRequest(exec_id=exec_id, command=command, timeout_s=timeout))
        )
        done = False
        try:
            while not done:
                out = await queue.get()
                done = out.done
                yield out
        finally:
            self._streams.pop(exec_id, None)
            if not done:
                session.send(apb.MasterToAgent(cancel_exec=apb.CancelExec(exec_id=exec_id)))

    def deliver(self, out: apb.ExecOutput) -> None:
        found = self._streams.get(out.exec_id)
        if found is not None:
            found[1].put_nowait(out)

    def _session(self, name: str) -> AgentSession:
        session = self.registry.get(name)
        if session is None:
            raise NotFound(f"no agent named '{name}'")
        if session.status is not AgentStatus.CONNECTED or session.outbox is None:
            raise AgentNotConnected(f"agent '{name}' is {session.status.value}")
        return session

    def _agent_gone(self, session: AgentSession) -> None:
        for exec_id, (name, queue) in list(self._streams.items()):
            if name == session.name:
                queue.put_nowait(
                    apb.ExecOutput(exec_id=exec_id, done=True, exit_code=-1, error=f"agent {name} went away")
                )
