"""Which connection may register which agent name: the name is bound to a credential.

- With --auth: an agent joins with a join token (role agent, shared by many agents). At its
  first registration the master issues the agent its own token `agent/NAME`, bound to NAME in
  the store, and sends it back in Registered; the agent keeps it and presents it from then on.
  A join token cannot register a bound name, and an agent's own token registers only its name.
- Under mutual TLS without --auth: the agent's name must be its certificate's common name.
- Neither: nothing proves a name (a master without --auth trusts its network).

The credential a connection proved is what the registry compares when a second connection
claims a name whose stream is live (registry.py): the same credential may take over (the
agent reconnecting after a network drop), another is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.master.auth import Caller
from sloth_engine.errors import UsageError
from sloth_engine.store.tokens import AGENT_PREFIX, TokenStore

log = logging.getLogger(__name__)
AUDIT_EVERY = 1.0
"""Forged reports of one agent are audited at most once per this many seconds (the rest counted)."""


class NameRefused(Exception):
    """This connection may not register this agent name (PERMISSION_DENIED, audited)."""


@dataclass(frozen=True)
class Claim:
    credential: str
    """What proved the name on this connection ("" when nothing does)."""
    new_token: str = ""
    """The agent's own token, issued now at its first join (sent once, never stored in clear)."""
    token_name: str = ""
    """The token the stream is re-checked against from now on ("" to keep the caller's)."""


class AgentIdentity:
    def __init__(self, tokens: TokenStore | None) -> None:
        self.tokens = tokens
        """The store's tokens with --auth, else None."""

    async def claim(self, caller: Caller | None, name: str) -> Claim:
        if caller is None:
            return Claim("")
        if self.tokens is not None and caller.token:
            return await self._by_token(caller, name)
        if caller.cert_cn:
            if caller.cert_cn != name:
                cn = caller.cert_cn
                raise NameRefused(f"certificate CN={cn} may register only agent '{cn}', not '{name}'")
            return Claim(f"cert:{caller.cert}")
        return Claim("")

    async def _by_token(self, caller: Caller, name: str) -> Claim:
        assert self.tokens is not None
        if caller.agent is not None:
            if caller.agent != name:
                raise NameRefused(f"token '{caller.token}' belongs to agent '{caller.agent}', not '{name}'")
            return Claim(caller.token)
        bound = await asyncio.to_thread(self.tokens.bound_to, name)
        if bound is not None:
            raise NameRefused(
                f"agent name '{name}' is bound to its own token '{bound}': a join token cannot"
                f" register it (`token delete {bound}` frees the name)"
            )
        try:
            token = await asyncio.to_thread(self.tokens.issue_agent, name)
        except UsageError as exc:  # another connection bound it a moment ago, or a bad name
            raise NameRefused(f"agent name '{name}': {exc}") from None
        return Claim(AGENT_PREFIX + name, token, AGENT_PREFIX + name)


class ForgedReports:
    """Output or results an agent sent for an attempt it does not hold: logged and audited as
    `audit.TaskResult` / `audit.TaskOutput` (at most one event per agent a second, so a
    hostile agent cannot flood the event log)."""

    def __init__(self, record: Callable[[str, dict[str, Any]], Any]) -> None:
        self.record = record
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def __call__(self, agent: str, kind: str, ref: apb.TaskRef) -> None:
        now = time.monotonic()
        if now - self._last.get(agent, -AUDIT_EVERY) < AUDIT_EVERY:
            self._skipped[agent] = self._skipped.get(agent, 0) + 1
            return
        self._last[agent] = now
        log.warning("agent %s sent a %s for %s/%s it does not hold", agent, kind, ref.run_id, ref.task)
        data = {
            "who": agent,
            "method": kind,
            "request": f"run_id={ref.run_id} task={ref.task} attempt={ref.attempt}",
            "outcome": "PERMISSION_DENIED",
            "why": "not the attempt assigned to this connection (agent or attempt token differs)",
            "also_rejected": self._skipped.pop(agent, 0),
        }
        try:
            self.record(f"audit.{kind}", data)
        except Exception as exc:  # the refusal stands without its audit record
            log.warning("cannot record the audit event of a forged %s: %s", kind, exc)
