"""WatchAgents: the agents as they are, then each change (coalesced while the watcher is slow)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.master.registry import AgentSession, Registry


async def watch_agents(registry: Registry, name: str = "") -> AsyncIterator[mpb.AgentInfo]:
    changed: dict[str, AgentSession] = {}
    wake = asyncio.Event()

    def hook(session: AgentSession) -> None:
        if not name or session.name == name:
            changed[session.name] = session
            wake.set()

    for session in sorted(registry.agents.values(), key=lambda s: s.name):
        if not name or session.name == name:
            yield registry.info(session)
    registry.on_change.append(hook)
    try:
        while True:
            await wake.wait()
            wake.clear()
            batch = list(changed.values())
            changed.clear()
            for session in batch:
                yield registry.info(session)
    finally:
        registry.on_change.remove(hook)
