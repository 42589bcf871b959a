"""The agents a master knows: who is connected, their metrics and facts, who is lost.

An agent is `connected` while its stream is up and its heartbeats arrive; `unreachable` when
the stream broke or heartbeats stopped (it may come back: tasks on it are kept); `lost` three
heartbeat intervals after it was last heard of (its tasks fail with "agent lost" and
`agent.disconnected` is recorded); `offline` after it closed its stream itself; `stopped`
after `agent stop`. One row per name in the `agents` table, written behind in batches.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.master.outbox import Outbox
from sloth_daemon.wire import from_json, metrics_from_dict, metrics_to_dict, to_json
from sloth_engine.errors import StoreError, UsageError
from sloth_engine.store.agents import AgentRow, AgentStatus, AgentTable
from sloth_engine.store.retry import trouble

log = logging.getLogger(__name__)

LOST_AFTER_BEATS = 3
"""An agent not heard of for this many heartbeat intervals is lost."""
FREEZE_AFTER = 100
"""Registrations after which the registry hides the live objects from the cyclic GC."""
LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
"""Upper bounds (seconds) of the heartbeat lag histogram: from the agent's send to the master."""


@dataclass
class AgentSession:
    """One agent by name, across its connections."""

    name: str
    status: AgentStatus = AgentStatus.OFFLINE
    instance_id: str = ""
    address: str = ""
    peer: str = ""
    """The connection's gRPC peer ("ipv4:10.0.0.5:41000"): whether it is on this machine."""
    tags: dict[str, str] = field(default_factory=dict)
    max_tasks: int = 1
    heartbeat_interval: float = 5.0
    version: str = ""
    modules: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    registered_at: float = 0.0
    connected_at: float | None = None
    last_heartbeat: float | None = None
    disconnected_at: float | None = None
    last_seen: float = 0.0
    """Monotonic time the agent was last heard of."""
    lost_at: float = 0.0
    """Monotonic deadline after which an unreachable agent is lost."""
    outbox: Outbox[apb.MasterToAgent] | None = None
    credential: str = ""
    """What proved the name on the live connection (agent_identity.py); "" when nothing did."""
    sent_bundles: set[str] = field(default_factory=set)
    pending: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Tasks assigned to this agent and not finished, by (run_id, task): the dispatcher's."""

    @property
    def free_slots(self) -> int:
        return self.max_tasks - len(self.pending)

    def send(self, message: apb.MasterToAgent) -> bool:
        if self.outbox is None or self.outbox.closed:
            return False
        self.outbox.put(message)
        return True


Hook = Callable[[AgentSession], None]


class NameTaken(Exception):
    """A live connection holds the name and the newcomer is not provably the same agent."""


class Registry:
    def __init__(self, rows: AgentTable | None, startup_grace: float = 10.0) -> None:
        self.agents: dict[str, AgentSession] = {}
        self.rows = rows
        self.startup_grace = startup_grace
        self.on_change: list[Hook] = []
        """Called on every registration, heartbeat and status change (watchers, dispatcher)."""
        self.on_lost: list[Hook] = []
        """Called when an agent's tasks must be given up (lost, offline, stopped, replaced)."""
        self._events: list[dict[str, Any]] = []
        self._dirty: set[str] = set()
        self.heartbeats = 0
        self.registrations = 0
        self.generation = 0
        self.lag_counts = [0] * (len(LAG_BUCKETS) + 1)
        self.lag_sum = 0.0
        """Grows whenever an agent comes, goes or changes status (not on heartbeats)."""

    # ---- start-up -----------------------------------------------------------------------

    def load(self) -> None:
        """Agents of the store; those that were connected get a grace period to come back."""
        if self.rows is None:
            return
        deadline = time.monotonic() + self.startup_grace
        for row in self.rows.load():
            session = AgentSession(row.name)
            _apply_row(session, row)
            if session.status in (AgentStatus.CONNECTED, AgentStatus.UNREACHABLE):
                session.status = AgentStatus.UNREACHABLE
                session.lost_at = deadline
            self.agents[session.name] = session

    # ---- what agents send ---------------------------------------------------------------

    def register(
        self, reg: apb.Register, outbox: Outbox[apb.MasterToAgent], peer: str, credential: str = ""
    ) -> tuple[AgentSession, bool]:
        """(session, same process as before): a name registering again updates its session.

        While the name's stream is live, only the same credential (or, when nothing proves
        names, the same agent process) may take it over: NameTaken otherwise."""
        name = reg.name.strip()
        if not name:
            raise UsageError("Register needs an agent name")
        session = self.agents.get(name)
        same = bool(session and reg.instance_id and session.instance_id == reg.instance_id)
        if session is not None and session.outbox is not None and session.outbox is not outbox:
            if not session.outbox.closed and not (credential == session.credential if credential else same):
                raise NameTaken(
                    f"agent '{name}' is connected (from {session.address}); another connection"
                    " may not take its name while it is"
                )
        if session is None:
            session = self.agents[name] = AgentSession(name, registered_at=time.time())
        elif session.outbox is not None and session.outbox is not outbox:
            session.outbox.close(None, "replaced by a new connection of the same agent")
        if session.pending and not same:
            self._give_up(session)
        now = time.time()
        session.instance_id = reg.instance_id
        session.address = reg.address or peer
        session.tags = dict(reg.tags)
        session.max_tasks = max(1, reg.max_tasks or 1)
        session.heartbeat_interval = reg.heartbeat_interval_s if reg.heartbeat_interval_s > 0 else 5.0
        session.version = reg.version
        session.modules = list(reg.modules)
        if reg.facts_json:
            session.facts = _facts(reg.facts_json)
        session.status = AgentStatus.CONNECTED
        session.connected_at = session.last_heartbeat = now
        session.registered_at = session.registered_at or now
        session.disconnected_at = None
        session.last_seen = time.monotonic()
        session.outbox = outbox
        session.credential = credential
        session.sent_bundles = set()
        self.registrations += 1
        self._record(session, "agent.registered", address=session.address, tags=session.tags, reconnect=same)
        return session, same

    def heartbeat(self, session: AgentSession, beat: apb.Heartbeat) -> None:
        self.heartbeats += 1
        session.last_heartbeat = time.time()
        session.last_seen = time.monotonic()
        if beat.HasField("metrics"):
            session.metrics = metrics_to_dict(beat.metrics)
            if beat.metrics.ts > 0:
                self._lag(session.last_heartbeat - beat.metrics.ts)
        if beat.facts_json:
            session.facts = _facts(beat.facts_json)
        if session.status is AgentStatus.UNREACHABLE and session.outbox is not None:
            session.status = AgentStatus.CONNECTED
        self._dirty.add(session.name)
        self._changed(session)

    def _lag(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.lag_sum += seconds
        self.lag_counts[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1

    def seen(self, session: AgentSession) -> None:
        session.last_seen = time.monotonic()

    def disconnected(self, session: AgentSession, outbox: Outbox[apb.MasterToAgent], clean: bool) -> None:
        """The stream `outbox` belonged to ended; `clean` when the agent closed it itself."""
        if session.outbox is not outbox:
            return  # an older connection, already replaced
        session.outbox = None
        session.disconnected_at = time.time()
        if session.status is AgentStatus.STOPPED:
            self._give_up(session)
            self._record(session, "agent.disconnected", reason="stopped")
        elif clean:
            session.status = AgentStatus.OFFLINE
            self._give_up(session)
            self._record(session, "agent.disconnected", reason="closed by the agent")
        elif session.status is AgentStatus.CONNECTED:
            self.generation += 1
            session.status = AgentStatus.UNREACHABLE
            session.lost_at = session.last_seen + LOST_AFTER_BEATS * session.heartbeat_interval
            self._dirty.add(session.name)
            self._changed(session)

    def stop(self, session: AgentSession, reason: str) -> None:
        self.generation += 1
        session.status = AgentStatus.STOPPED
        session.send(apb.MasterToAgent(stop=apb.Stop(reason=reason)))
        if session.outbox is not None:
            session.outbox.close()
        self._dirty.add(session.name)
        self._changed(session)

    # ---- the watchdog ----------------------------------------------------------------------

    def check(self, now: float | None = None) -> list[AgentSession]:
        """Mark agents lost whose time is up; the ones that were."""
        now = time.monotonic() if now is None else now
        lost = []
        for session in self.agents.values():
            if session.status is AgentStatus.CONNECTED:
                if now - session.last_seen > LOST_AFTER_BEATS * session.heartbeat_interval:
                    self._record(
                        session, "agent.heartbeat_failed", missed_s=round(now - session.last_seen, 3)
                    )
                    session.status = AgentStatus.UNREACHABLE
                    session.lost_at = now
                    if session.outbox is not None:
                        session.outbox.close(None, "no heartbeat")
            if session.status is AgentStatus.UNREACHABLE and now >= session.lost_at:
                session.status = AgentStatus.LOST
                self._give_up(session)
                self._record(session, "agent.disconnected", reason="lost")
                lost.append(session)
        return lost

    def tick(self) -> float:
        """How often the watchdog should look: a quarter of the shortest heartbeat interval."""
        intervals = [s.heartbeat_interval for s in self.agents.values()] or [1.0]
        return min(1.0, max(0.02, min(intervals) / 4))

    def start_grace(self, now: float | None = None) -> None:
        """Agents of the store that have not come back get their whole grace from now, when
        this master serves: a slow start (loading, resuming runs) must not use it up, or their
        tasks are given up while they are still reconnecting."""
        deadline = (time.monotonic() if now is None else now) + self.startup_grace
        for session in self.agents.values():
            if session.status is AgentStatus.UNREACHABLE:
                session.lost_at = max(session.lost_at, deadline)

    def forgive(self, stalled: float) -> None:
        """The master's loop was stalled for `stalled` seconds (an overloaded host, a long
        collection): heartbeats that arrived meanwhile still wait in the stream, so that time
        is not counted against connected agents, or a busy master drops healthy agents."""
        for session in self.agents.values():
            if session.status is AgentStatus.CONNECTED:
                session.last_seen += stalled

    async def watch(self) -> None:
        self.start_grace()  # started by a master that serves (lead)
        frozen_at = seen = 0
        while True:
            tick = self.tick()
            slept_from = time.monotonic()
            await asyncio.sleep(tick)
            stalled = time.monotonic() - slept_from - tick
            if stalled > tick:
                self.forgive(stalled)
            self.check()
            if self.registrations - frozen_at >= FREEZE_AFTER and self.registrations == seen:
                # Sessions live long: once a wave of registrations is over, take what exists
                # out of the cyclic GC's sight, or a full collection over thousands of agents'
                # objects stalls the loop (~0.5 s at 10,000 agents).
                gc.freeze()
                frozen_at = self.registrations
            seen = self.registrations

    # ---- persistence ---------------------------------------------------------------------

    async def flush_forever(self, every: float = 0.25) -> None:
        while True:
            await asyncio.sleep(every)
            await self.flush()

    async def flush(self) -> None:
        if self.rows is None or (not self._dirty and not self._events):
            return
        rows = [row_of(self.agents[n]) for n in self._dirty if n in self.agents]
        events, self._events, self._dirty = self._events, [], set()
        try:
            await asyncio.to_thread(self.rows.save, rows, events)
        except StoreError as exc:  # the registry goes on in memory; the next flush writes again
            self._dirty |= {row.name for row in rows}
            self._events = events + self._events
            trouble(log, "agents: writing their rows failed (kept, written again later)", exc)
        except Exception:  # a bug: the registry goes on in memory
            log.exception("writing %d agent rows failed", len(rows))

    # ---- views -----------------------------------------------------------------------------

    def get(self, name: str) -> AgentSession | None:
        return self.agents.get(name)

    def facts_of(self, name: str) -> dict[str, Any]:
        """An agent's last reported facts (the Lua `facts` module's `{ agent = name }`); KeyError
        for an unknown agent. Called from Lua worker threads: reads one reference."""
        session = self.agents.get(name)
        if session is None:
            raise KeyError(name)
        return dict(session.facts)

    def info(self, session: AgentSession) -> mpb.AgentInfo:
        return mpb.AgentInfo(
            name=session.name,
            address=session.address,
            tags=session.tags,
            status=session.status.value,
            version=session.version,
            max_tasks=session.max_tasks,
            running_tasks=len(session.pending),
            registered_at=session.registered_at,
            connected_at=session.connected_at or 0.0,
            last_heartbeat=session.last_heartbeat or 0.0,
            heartbeat_interval_s=session.heartbeat_interval,
            metrics=metrics_from_dict(session.metrics),
            facts_json=to_json(session.facts) if session.facts else b"",
            modules=session.modules,
        )

    # ---- inside ----------------------------------------------------------------------------

    def _give_up(self, session: AgentSession) -> None:
        for hook in self.on_lost:
            hook(session)
        session.pending.clear()

    def _record(self, session: AgentSession, kind: str, **data: Any) -> None:
        self.generation += 1
        self._events.append(
            {
                "type": kind,
                "ts": time.time(),
                "severity": "warning" if kind != "agent.registered" else "info",
                "source": "master",
                "data": {"agent": session.name, "status": session.status.value, **data},
            }
        )
        self._dirty.add(session.name)
        self._changed(session)

    def _changed(self, session: AgentSession) -> None:
        for hook in self.on_change:
            hook(session)


def row_of(session: AgentSession) -> AgentRow:
    return AgentRow(
        name=session.name,
        instance_id=session.instance_id,
        address=session.address,
        tags=session.tags,
        status=session.status,
        version=session.version,
        max_tasks=session.max_tasks,
        heartbeat_interval_s=session.heartbeat_interval,
        registered_at=session.registered_at,
        connected_at=session.connected_at,
        last_heartbeat=session.last_heartbeat,
        disconnected_at=session.disconnected_at,
        metrics=session.metrics,
        facts=session.facts,
        modules=session.modules,
    )


def _apply_row(session: AgentSession, row: AgentRow) -> None:
    session.status = row.status
    session.instance_id = row.instance_id or session.instance_id
    session.address = row.address or session.address
    session.version = row.version or session.version
    session.registered_at = row.registered_at or session.registered_at
    session.connected_at = row.connected_at or session.connected_at
    session.last_heartbeat = row.last_heartbeat
    session.disconnected_at = row.disconnected_at
    session.max_tasks = row.max_tasks or 1
    session.heartbeat_interval = row.heartbeat_interval_s or 5.0
    session.tags = row.tags or {}
    session.metrics = row.metrics or {}
    session.facts = row.facts or {}
    session.modules = row.modules or []


def _facts(data: bytes) -> dict[str, Any]:
    try:
        value = from_json(data, "facts")
    except UsageError:
        return {}
    return value if isinstance(value, dict) else {}
