"""The master's RemotePort: places delegated task attempts on agents and waits for them.

`execute` picks a connected agent that matches the task's placement (by name or address, by
tags, or any) with the workflow's `config.load_balancing`, queues an AssignTask on the
agent's stream, forwards the agent's output lines to the run's sink and returns the agent's
outcome. Tasks placed on the master (no `delegate_to`) and, when no agent matches, those of a
workflow with `config.fallback_local` run in child processes on the master's host
(host_tasks.py); otherwise the attempt fails with "no agent matches ...". When the agent is
lost the attempt fails with "agent lost"; the engine's retries then place it again, on another agent.

After a master restart, tasks that were running on an agent are adopted when that agent
reconnects and reports them (still running, or finished while the master was away).

Each assignment carries an attempt token the master makes (TaskRef.attempt_token): output and
results are accepted only from the agent the attempt was assigned to and with its token; any
other is dropped and audited as `audit.TaskResult` / `audit.TaskOutput` (PERMISSION_DENIED).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.master.host_tasks import HostTasks
from sloth_daemon.master.placement import Chooser, describe_miss, matching, strategy_of
from sloth_daemon.master.registry import AgentSession, Registry
from sloth_daemon.wire import outcome_from_proto, to_json
from sloth_engine.executor.remote import RemoteTask
from sloth_engine.executor.results import AttemptOutcome
from sloth_engine.spec import Placement, TaskStatus
from sloth_engine.store.agents import AgentStatus

log = logging.getLogger(__name__)

TIMEOUT_GRACE = 10.0
"""How long past a task's own timeout the master waits for the agent to report it."""

Key = tuple[str, str]
Sink = Callable[[str, str], None]


@dataclass
class Bundle:
    """A run's workflow file as agents receive it (once per connection)."""

    key: str
    path: str
    source: str
    values_json: bytes
    stack: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> apb.Bundle:
        return apb.Bundle(
            key=self.key,
            path=self.path,
            source=self.source,
            values_json=self.values_json,
            stack=self.stack,
            files=[apb.BundleFile(path=p, source=t) for p, t in sorted(self.files.items())],
        )


@dataclass
class Pending:
    key: Key
    attempt: int
    agent: str
    sink: Sink
    future: asyncio.Future[AttemptOutcome]
    token: str = ""
    """The attempt token sent with the assignment; "" for an attempt adopted after a restart."""

    def accepts(self, ref: apb.TaskRef) -> bool:
        """Whether output or a result with `ref` is this attempt's own."""
        if ref.attempt != self.attempt:
            return False
        return not self.token or hmac.compare_digest(self.token.encode(), ref.attempt_token.encode())


Forged = Callable[[str, str, apb.TaskRef], None]


class Dispatcher:
    def __init__(self, registry: Registry, home: Path) -> None:
        self.registry = registry
        self.home = home
        self.bundles: dict[str, Bundle] = {}
        self.expected: set[Key] = set()
        """Tasks of resumed runs that were running on agents when the master stopped."""
        self._orphan_results: dict[Key, tuple[str, apb.TaskResult]] = {}
        self._orphan_running: dict[Key, tuple[str, int, str]] = {}
        self._chooser = Chooser()
        self._matches: dict[Placement, tuple[int, list[AgentSession], bool]] = {}
        self._change = asyncio.Event()
        self.dispatched = 0
        self.secrets_in_clear = False
        """Granted secrets may go to any agent: the master serves TLS, or was started with
        --allow-plaintext-secrets. Otherwise only to agents connected over loopback."""
        self.host: HostTasks | None = None
        """Runs the attempts placed on the master's host, each in a child process."""
        self.may_dispatch: Callable[[], bool] = lambda: True
        """With --ha: whether this master still holds its lease (it dispatches nothing once not)."""
        self.assigned: dict[Key, Pending] = {}
        """Every attempt waiting on an agent, by task: who may report it."""
        self.on_forged: Forged = lambda agent, kind, ref: None
        """Told of output or a result an agent sent for an attempt it does not hold (audit)."""
        self.forged = 0
        registry.on_lost.append(self._agent_gone)
        registry.on_change.append(lambda session: self._wake())

    # ---- runs tell the dispatcher what they run --------------------------------------------

    def add_bundle(
        self,
        run_id: str,
        path: str,
        source: str,
        values: dict[str, Any],
        stack: str | None = None,
        files: dict[str, str] | None = None,
    ) -> None:
        """The run's bundle, keyed by the hash of all it holds: an agent loads each once."""
        values_json = to_json(values)
        parts = [path.encode(), source.encode(), values_json, (stack or "").encode()]
        for rel, text in sorted((files or {}).items()):
            parts += [rel.encode(), text.encode()]
        digest = hashlib.sha256(b"\0".join(parts)).hexdigest()
        self.bundles[run_id] = Bundle(digest[:24], path, source, values_json, stack or "", dict(files or {}))

    def forget_run(self, run_id: str) -> None:
        self.bundles.pop(run_id, None)
        self.expected = {k for k in self.expected if k[0] != run_id}

    # ---- RemotePort ------------------------------------------------------------------------

    async def execute(self, task: RemoteTask, sink: Sink) -> tuple[AttemptOutcome, str]:
        if task.placement.on_master and self.host is not None:
            return await self.host.execute(task, sink)
        key = (task.run_id, task.task)
        adopted = await self._adopt(key, task, sink)
        if adopted is not None:
            return adopted
        if task.run_id not in self.bundles:
            text = f"run {task.run_id} has no workflow source on this master"
            return AttemptOutcome(TaskStatus.FAILED, text, text), ""
        session = await self._place(task)
        if not self.may_dispatch():
            # Deposed (--ha): the master is stepping down. A single master whose lease ran out
            # (the database unreachable) dispatches again once it renews it.
            log.error("not dispatching %s/%s: this master does not hold its lease", task.run_id, task.task)
            while not self.may_dispatch():
                await asyncio.sleep(0.5)
        if session is None:
            if task.config.get("fallback_local") and self.host is not None:
                return await self.host.execute(task, sink)  # in a child process, as `master` tasks
            text = describe_miss(task.placement)
            return AttemptOutcome(TaskStatus.FAILED, text, text), ""
        if task.secrets and not (self.secrets_in_clear or on_loopback(session.peer)):
            text = (
                f"the run's secrets cannot be sent to agent {session.name} over a plain connection "
                f"({session.peer}): serve TLS (--tls-cert/--tls-key) or start the master with "
                "--allow-plaintext-secrets"
            )
            return AttemptOutcome(TaskStatus.FAILED, text, text, final=True), session.name
        pending = self._pending(session, key, task.attempt, sink, secrets.token_urlsafe(16))
        self._send_assignment(session, task, pending.token)
        if task.on_placed is not None:
            task.on_placed(session.name)
        return await self._wait(session, pending, task.timeout)

    async def _place(self, task: RemoteTask) -> AgentSession | None:
        """A connected matching agent with a free slot; waits while all are busy or coming back."""
        strategy = strategy_of(task.config)
        while True:
            change = self._change
            live, coming_back = self._candidates(task.placement)
            if live:
                chosen = self._chooser.choose(live, task.placement, strategy)
                if chosen is not None:
                    return chosen  # type: ignore[return-value]
            elif not coming_back:
                return None
            await _wait_event(change, 1.0)

    def _candidates(self, placement: Placement) -> tuple[list[AgentSession], bool]:
        """(connected matching agents by name, whether a matching one may come back); cached
        until an agent comes, goes or changes status."""
        cached = self._matches.get(placement)
        if cached is not None and cached[0] == self.registry.generation:
            return cached[1], cached[2]
        agents = matching(self.registry.agents.values(), placement)
        live = sorted(
            (a for a in agents if a.status is AgentStatus.CONNECTED and a.outbox is not None),
            key=lambda a: a.name,
        )
        coming_back = any(a.status is AgentStatus.UNREACHABLE for a in agents)
        self._matches[placement] = (self.registry.generation, live, coming_back)  # type: ignore[assignment]
        return live, coming_back  # type: ignore[return-value]

    def _pending(self, session: AgentSession, key: Key, attempt: int, sink: Sink, token: str = "") -> Pending:
        future = asyncio.get_running_loop().create_future()
        pending = Pending(key, attempt, session.name, sink, future, token)
        session.pending[key] = pending
        self.assigned[key] = pending
        return pending

    def _send_assignment(self, session: AgentSession, task: RemoteTask, token: str) -> None:
        bundle = self.bundles[task.run_id]
        ref = apb.TaskRef(run_id=task.run_id, task=task.task, attempt=task.attempt, attempt_token=token)
        msg = apb.AssignTask(
            ref=ref,
            workflow=task.workflow,
            bundle_key=bundle.key,
            params_json=to_json(task.params),
            inputs_json=to_json(task.inputs),
            timeout_s=task.timeout or 0.0,
            secrets=task.secrets,
            trace=task.trace,
        )
        if bundle.key not in session.sent_bundles:
            msg.bundle.CopyFrom(bundle.to_proto())
            session.sent_bundles.add(bundle.key)
        assert session.outbox is not None
        session.outbox.put_merged(msg, _assignments, _merge_assignment)
        self.dispatched += 1

    async def _wait(
        self, session: AgentSession, pending: Pending, timeout: float | None
    ) -> tuple[AttemptOutcome, str]:
        try:
            limit = timeout + TIMEOUT_GRACE if timeout else None
            outcome = await asyncio.wait_for(pending.future, limit)
        except TimeoutError:
            self._cancel_on_agent(session, pending, "timed out")
            text = f"timed out after {timeout:g}s (agent {session.name} did not report)"
            outcome = AttemptOutcome(TaskStatus.TIMED_OUT, text, text)
        except asyncio.CancelledError:
            self._cancel_on_agent(session, pending, "cancelled")
            raise
        finally:
            if session.pending.get(pending.key) is pending:
                del session.pending[pending.key]
            if self.assigned.get(pending.key) is pending:
                del self.assigned[pending.key]
            self._wake()
        return outcome, pending.agent

    def _cancel_on_agent(self, session: AgentSession, pending: Pending, reason: str) -> None:
        ref = apb.TaskRef(
            run_id=pending.key[0], task=pending.key[1], attempt=pending.attempt, attempt_token=pending.token
        )
        session.send(apb.MasterToAgent(cancel=apb.CancelTask(ref=ref, reason=reason)))

    # ---- what agents report ----------------------------------------------------------------

    def deliver(self, session: AgentSession, updates: apb.TaskUpdates) -> None:
        for out in updates.outputs:
            pending = self._owned(session, out.ref, "TaskOutput")
            if pending is not None:
                for line in out.lines:
                    pending.sink(out.stream, line)
        for result in updates.results:
            key = (result.ref.run_id, result.ref.task)
            pending = self._owned(session, result.ref, "TaskResult")
            if pending is not None:
                if not pending.future.done():
                    pending.future.set_result(outcome_from_proto(result))
            elif key in self.expected and key not in self.assigned:
                self._orphan_results[key] = (session.name, result)
                self._wake()

    def _owned(self, session: AgentSession, ref: apb.TaskRef, kind: str) -> Pending | None:
        """The attempt `ref` reports on when this agent holds it with this token; a report on an
        attempt held by another agent, or with a wrong token, is forged: dropped and told."""
        key = (ref.run_id, ref.task)
        pending = self.assigned.get(key)
        if pending is None:
            return None  # late (the attempt is over) or a resumed run's task: not an attempt here
        if pending.agent == session.name and pending.accepts(ref):
            return pending
        if pending.agent == session.name and ref.attempt != pending.attempt:
            return None  # a report of an earlier attempt, arriving late
        self.forged += 1
        self.on_forged(session.name, kind, ref)
        return None

    def reconnected(self, session: AgentSession, reg: apb.Register) -> list[apb.TaskRef]:
        """Reconcile what a (re)connecting agent still runs; the tasks it must abandon."""
        running = {(r.run_id, r.task): r for r in reg.running}
        finished = {(r.ref.run_id, r.ref.task): r for r in reg.finished}
        for key, pending in list(session.pending.items()):
            if key in finished and not pending.accepts(finished[key].ref):
                self.forged += 1
                self.on_forged(session.name, "TaskResult", finished.pop(key).ref)
            if key in finished:
                if not pending.future.done():
                    pending.future.set_result(outcome_from_proto(finished.pop(key)))
            elif key not in running and not pending.future.done():
                text = f"agent lost: {session.name} came back without task {key[1]}"
                pending.future.set_result(AttemptOutcome(TaskStatus.FAILED, text, text))
        for key, result in finished.items():
            if key in self.expected:
                self._orphan_results[key] = (session.name, result)
        abandon = []
        for key, ref in running.items():
            if key in session.pending:
                continue
            if key in self.expected:
                self._orphan_running[key] = (session.name, ref.attempt, ref.attempt_token)
            else:
                abandon.append(ref)
        self._wake()
        return abandon

    def _agent_gone(self, session: AgentSession) -> None:
        text = f"agent lost: {session.name} ({session.status.value})"
        for pending in session.pending.values():
            if not pending.future.done():
                pending.future.set_result(AttemptOutcome(TaskStatus.FAILED, text, text))
        self._wake()

    # ---- a resumed run adopts what its agents still hold -------------------------------------

    async def _adopt(self, key: Key, task: RemoteTask, sink: Sink) -> tuple[AttemptOutcome, str] | None:
        """A resumed run's task that was on an agent: its result or its run, once agents are back.

        The store does not say which agent a running attempt was on (the engine learns the agent
        when the attempt ends), so the task waits until every agent that was connected before
        the restart has come back or is lost, or until one of them reports the task.
        """
        if key not in self.expected:
            return None
        while key not in self._orphan_results and key not in self._orphan_running:
            change = self._change
            if not any(a.status is AgentStatus.UNREACHABLE for a in self.registry.agents.values()):
                break
            await _wait_event(change, 1.0)
        self.expected.discard(key)
        found = self._orphan_results.pop(key, None)
        if found is not None:
            return outcome_from_proto(found[1]), found[0]
        running = self._orphan_running.pop(key, None)
        session = self.registry.get(running[0]) if running else None
        if running is not None and session is not None and session.outbox is not None:
            pending = self._pending(session, key, running[1], sink, running[2])
            return await self._wait(session, pending, task.timeout)
        return None

    # ---- waking waiters ---------------------------------------------------------------------

    def _wake(self) -> None:
        """Wake everyone waiting for an agent or a slot; they look again."""
        change, self._change = self._change, asyncio.Event()
        change.set()


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


def on_loopback(peer: str) -> bool:
    """Whether a gRPC peer string names this machine ("ipv4:127.0.0.1:5", "ipv6:[::1]:5", "unix:")."""
    import ipaddress

    kind, _, rest = peer.partition(":")
    if kind == "unix":
        return True
    host = rest.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _assignments() -> apb.MasterToAgent:
    return apb.MasterToAgent(assign=apb.Assignments())


def _merge_assignment(message: apb.MasterToAgent, task: apb.AssignTask) -> bool:
    if message.WhichOneof("kind") != "assign":
        return False
    message.assign.tasks.append(task)
    return True
