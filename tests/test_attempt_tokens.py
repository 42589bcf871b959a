"""The dispatcher's attempt tokens, in process: a report on an attempt is accepted only from
the agent it was assigned to and with the token sent with the assignment; a wrong token, an
attempt of another agent and a late report of an earlier attempt are not accepted, and only
the first two are told as forged."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.master.dispatcher import Dispatcher
from sloth_daemon.master.outbox import Outbox
from sloth_daemon.master.registry import Registry


def _result(run: str, task: str, attempt: int, token: str) -> apb.TaskUpdates:
    ref = apb.TaskRef(run_id=run, task=task, attempt=attempt, attempt_token=token)
    return apb.TaskUpdates(results=[apb.TaskResult(ref=ref, status="success")])


def test_reports_need_the_agent_and_the_attempt_token(tmp_path: Path) -> None:
    async def scenario() -> None:
        registry = Registry(None)
        dispatcher = Dispatcher(registry, tmp_path)
        told: list[tuple[str, str]] = []
        dispatcher.on_forged = lambda agent, kind, ref: told.append((agent, kind))
        sessions: dict[str, Any] = {}
        for name in ("owner", "other"):
            sessions[name], _ = registry.register(apb.Register(name=name, instance_id=name), Outbox(), "peer")
        pending = dispatcher._pending(
            sessions["owner"], ("r1", "t"), 2, lambda stream, line: None, "the-token"
        )

        dispatcher.deliver(sessions["owner"], _result("r1", "t", 2, "guessed"))
        dispatcher.deliver(sessions["other"], _result("r1", "t", 2, "the-token"))
        dispatcher.deliver(sessions["owner"], _result("r1", "t", 1, "old-token"))  # late, not forged
        assert not pending.future.done()
        assert told == [("owner", "TaskResult"), ("other", "TaskResult")]

        dispatcher.deliver(sessions["owner"], _result("r1", "t", 2, "the-token"))
        assert pending.future.done() and pending.future.result().status.value == "success"

    asyncio.run(scenario())
