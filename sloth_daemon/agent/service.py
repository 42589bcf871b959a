"""`sloth-daemon agent`: dial the master, register, heartbeat, run what is assigned.

The agent needs no inbound port: it holds one Connect stream to the master. When the stream
breaks it reconnects with exponential backoff (with jitter) and registers again under the same
name and process id, listing the tasks it still runs and the results it could not deliver, so
work goes on across a master restart. `Stop` from the master, SIGTERM or SIGINT end it.

With --auth, the agent joins with a join token; the master answers its first registration
with the agent's own token (bound to its name), which the agent keeps in
`$SLOTH_HOME/agent/NAME.token` (0600) and presents from then on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from sloth_daemon.agent import metrics
from sloth_daemon.agent.attempts import Attempts
from sloth_daemon.agent.remote_exec import ExecRunner
from sloth_daemon.agent.tasks import TaskSlots
from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
from sloth_daemon.leader import MasterList, channel_options
from sloth_daemon.master.outbox import Outbox
from sloth_daemon.remote_port import remote_port
from sloth_daemon.store_channel import StoreChannel
from sloth_daemon.tls import TlsFiles, channel_credentials
from sloth_daemon.wire import to_json
from sloth_engine import __version__
from sloth_engine.home import sloth_home
from sloth_engine.lua.sandbox import ModuleError
from sloth_engine.lua.watchdog import StuckLua

log = logging.getLogger(__name__)

FACTS_TIMEOUT = 10.0
REPORT_GRACE = 1.0
"""Seconds between reporting a stuck attempt and replacing the process (the report goes out)."""
"""How long a task waits for the master to answer a question about another agent's facts."""
FACTS_EVERY = 10
"""Facts travel with every this-many heartbeats (metrics with each)."""
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.enable_retries", 0),
]


@dataclass
class AgentConfig:
    master: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    max_tasks: int = 4
    heartbeat: float = 5.0
    reconnect_max: float = 5.0
    home: Path = field(default_factory=sloth_home)
    cwd: Path = field(default_factory=Path.cwd)
    ready_file: str | None = None
    token: str | None = field(default=None, repr=False)
    """Join token (role agent) sent as `authorization: Bearer ...` on the Connect stream."""
    tls: TlsFiles = field(default_factory=TlsFiles)


class AgentService:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.instance_id = uuid.uuid4().hex
        self.masters = MasterList(config.master)
        """Several masters (HA): the agent dials the leader among them."""
        self.token = self._own_token() or config.token
        """What the agent presents: its own token once it has one, else the join token."""
        self.store = StoreChannel(self._metadata())
        """Tasks' state, locks and stack resources, through the master (an agent has no store)."""
        self.attempts = Attempts(
            config.home, config.cwd, config.max_tasks, self.facts_of, on_stuck=self._lua_stuck
        )
        self.attempts.port = remote_port(self.store.call, self.store.acall, self.store.send, self.store.flush)
        self.slots = TaskSlots(self.attempts, config.max_tasks)
        self.slots.agent = config.name
        self.execs = ExecRunner()
        self.stopping = asyncio.Event()
        self.stop_reason = ""
        self.connections = 0
        self._outbox: Outbox[apb.AgentToMaster] | None = None
        self._facts_waiting: dict[str, asyncio.Future[apb.FactsReply]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.replace_process = False
        """Set when a Lua thread is stuck: run() ends by replacing this process (exec)."""

    def _metadata(self) -> tuple[tuple[str, str], ...] | None:
        return (("authorization", f"Bearer {self.token}"),) if self.token else None

    def _use_token(self, token: str | None) -> None:
        self.token = token
        self.store.metadata = self._metadata()  # the store stream's next opening uses it too

    @property
    def _token_file(self) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.config.name)
        return self.config.home / "agent" / f"{safe}.token"

    def _own_token(self) -> str | None:
        try:
            return self._token_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def _keep_token(self, token: str) -> None:
        """Keep the token the master issued to this agent (its own credential from now on)."""
        path = self._token_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        tmp.replace(path)
        self._use_token(token)
        log.info("this agent's own token is kept in %s", path)

    async def run(self) -> None:
        """Connect, serve, reconnect, until stopped."""
        _pidfd_child_watcher()
        self._loop = asyncio.get_running_loop()
        backoff = 0.1
        while not self.stopping.is_set():
            registered = await self._connect_once()
            if self.stopping.is_set():
                break
            backoff = 0.1 if registered else min(self.config.reconnect_max, backoff * 2)
            delay = backoff * random.uniform(0.8, 1.2)
            log.info("master %s away; reconnecting in %.2fs", self.masters.current, delay)
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except TimeoutError:
                pass
        self.slots.cancel_all(self.stop_reason or "agent stopping")
        await self.slots.wait_idle(5.0)
        self.execs.cancel_all()
        self.attempts.close()
        if self.replace_process:
            replace_process()

    def _lua_stuck(self, stuck: StuckLua) -> None:
        """On the watchdog's thread: a Lua thread of this agent spins in C for good. Its attempt
        is reported timed out (or cancelled) by the pool; then this process is replaced by a
        fresh one (same pid, same arguments), the only way to get that thread back."""
        loop = self._loop
        if loop is None or self.replace_process:
            return
        self.replace_process = True
        reason = "replacing the process: Lua stuck"
        loop.call_soon_threadsafe(loop.call_later, REPORT_GRACE, self.stop, reason)

    def stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.stopping.set()

    async def _connect_once(self) -> bool:
        """One connection, from Register to the end of the stream; True if it was registered."""
        outbox: Outbox[apb.AgentToMaster] = Outbox()
        outbox.put(apb.AgentToMaster(register=self._register()))
        registered = False
        options = channel_options(CHANNEL_OPTIONS, self.masters.several)
        async with self._channel(options) as channel:
            call = mgrpc.MasterServiceStub(channel).Connect(outbox.messages(), metadata=self._metadata())
            self._bind(outbox)
            self.store.bind(channel)
            beats = asyncio.create_task(self._heartbeats(outbox))
            stopper = asyncio.create_task(self._close_on_stop(outbox, call))
            watchdog = asyncio.create_task(self._watch_master(channel, call))
            try:
                async for message in call:
                    if message.WhichOneof("kind") == "registered":
                        registered = True
                        if message.registered.agent_token:
                            self._keep_token(message.registered.agent_token)
                        self.connections += 1
                        self.slots.abandon(list(message.registered.abandon))
                        self._ready()
                    self._handle(message)
            except asyncio.CancelledError:
                if not (watchdog.done() and watchdog.result()):
                    raise
            except grpc.aio.AioRpcError as exc:
                if self.masters.follow(exc, exc.code().name):
                    log.info("following the leader: now dialing %s (%s)", self.masters.current, exc.details())
                elif exc.code() in (
                    grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.PERMISSION_DENIED,
                ):
                    log.error("master refused this agent: %s", exc.details())
                    if exc.code() is grpc.StatusCode.UNAUTHENTICATED and self.token != self.config.token:
                        self._use_token(self.config.token)  # a token of another store: join again
                else:
                    log.info("stream ended: %s %s", exc.code().name, exc.details())
            finally:
                self._bind(None)
                self.store.unbind("the connection to the master was lost")
                beats.cancel()
                stopper.cancel()
                watchdog.cancel()
                outbox.close()
        return registered

    def _channel(self, options: list[tuple[str, Any]]) -> grpc.aio.Channel:
        if self.config.tls.enabled:
            credentials = channel_credentials(self.config.tls)
            return grpc.aio.secure_channel(self.masters.current, credentials, options=options)
        return grpc.aio.insecure_channel(self.masters.current, options=options)

    def _handle(self, message: apb.MasterToAgent) -> None:
        kind = message.WhichOneof("kind")
        if kind == "assign":
            for assign in message.assign.tasks:
                self.slots.start(assign)
        elif kind == "cancel":
            self.slots.cancel(message.cancel.ref, message.cancel.reason or "cancelled")
        elif kind == "exec":
            self.execs.start(message.exec)
        elif kind == "cancel_exec":
            self.execs.cancel(message.cancel_exec.exec_id)
        elif kind == "facts_reply":
            waiting = self._facts_waiting.pop(message.facts_reply.request_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(message.facts_reply)
        elif kind == "stop":
            log.warning("stopped by the master: %s", message.stop.reason)
            self.stop(message.stop.reason or "stopped by the master")

    def _bind(self, outbox: Outbox[apb.AgentToMaster] | None) -> None:
        """Route output, results and exec output to this connection (None: no connection)."""
        self._outbox = outbox
        if outbox is None:
            self.slots.emit_output = lambda ref, stream, line: None
            self.slots.emit_result = lambda result: False
            self.execs.emit = lambda out: None
            return

        def output(ref: apb.TaskRef, stream: str, line: str) -> None:
            outbox.put_merged((ref, stream, line), _updates, _merge_output)

        def result(res: apb.TaskResult) -> bool:
            if outbox.closed:
                return False
            outbox.put_merged(res, _updates, _merge_result)
            return True

        self.slots.emit_output = output
        self.slots.emit_result = result
        self.execs.emit = lambda out: outbox.put(apb.AgentToMaster(exec_output=out))

    def facts_of(self, name: str) -> dict[str, Any]:
        """Another agent's facts, asked of the master; called from a Lua worker thread."""
        if self._loop is None:
            raise ModuleError(f"facts of agent '{name}': this agent is not running")
        future = asyncio.run_coroutine_threadsafe(self._ask_facts(name), self._loop)
        try:
            return future.result(FACTS_TIMEOUT + 1.0)
        except TimeoutError:
            future.cancel()
            raise ModuleError(f"facts of agent '{name}': the master did not answer") from None

    async def _ask_facts(self, name: str) -> dict[str, Any]:
        outbox = self._outbox
        if outbox is None or outbox.closed:
            raise ModuleError(f"facts of agent '{name}': not connected to the master")
        request_id = uuid.uuid4().hex
        waiting: asyncio.Future[apb.FactsReply] = asyncio.get_running_loop().create_future()
        self._facts_waiting[request_id] = waiting
        outbox.put(apb.AgentToMaster(facts_request=apb.FactsRequest(request_id=request_id, agent=name)))
        try:
            reply = await asyncio.wait_for(waiting, FACTS_TIMEOUT)
        finally:
            self._facts_waiting.pop(request_id, None)
        if reply.error.startswith("no agent named"):
            raise KeyError(name)
        if reply.error:
            raise ModuleError(f"facts of agent '{name}': {reply.error}")
        return json.loads(reply.facts_json) if reply.facts_json else {}

    async def _heartbeats(self, outbox: Outbox[apb.AgentToMaster]) -> None:
        beat = 0
        while True:
            await asyncio.sleep(self.config.heartbeat)
            beat += 1
            msg = apb.Heartbeat(metrics=metrics.metrics(len(self.slots.running)))
            if beat % FACTS_EVERY == 0:
                msg.facts_json = to_json(await asyncio.to_thread(metrics.facts))
            outbox.put(apb.AgentToMaster(heartbeat=msg))

    async def _watch_master(self, channel: grpc.aio.Channel, call: grpc.aio.StreamStreamCall) -> bool:
        """With several masters, leave one that stops answering (paused, cut off): True if left."""
        if not self.masters.several:
            return False
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            await asyncio.sleep(1.0)
            try:
                await stub.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                    log.warning("master %s does not answer; trying another", self.masters.current)
                    self.masters.follow(None, "UNAVAILABLE")
                    call.cancel()
                    return True

    async def _close_on_stop(
        self, outbox: Outbox[apb.AgentToMaster], call: grpc.aio.StreamStreamCall
    ) -> None:
        await self.stopping.wait()
        self.slots.cancel_all(self.stop_reason or "agent stopping")
        await self.slots.wait_idle(5.0)
        outbox.put(apb.AgentToMaster(goodbye=apb.Goodbye(reason=self.stop_reason)))
        outbox.close()  # ends our side of the stream after the goodbye
        await asyncio.sleep(2.0)
        call.cancel()

    def _register(self) -> apb.Register:
        running, finished = self.slots.for_register()
        return apb.Register(
            name=self.config.name,
            instance_id=self.instance_id,
            address=socket.gethostname(),
            tags=self.config.tags,
            max_tasks=self.config.max_tasks,
            heartbeat_interval_s=self.config.heartbeat,
            version=__version__,
            modules=metrics.modules(),
            facts_json=to_json(metrics.facts()),
            running=running,
            finished=finished,
        )

    def _ready(self) -> None:
        if self.config.ready_file and self.connections == 1:
            path = Path(self.config.ready_file)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(f"{self.config.name} {os.getpid()}\n", encoding="utf-8")
            tmp.replace(path)


def _pidfd_child_watcher() -> None:
    """Python 3.11 waits for each child on a thread of its own by default; pidfd is much
    cheaper when shell tasks come by the thousand (3.12 does this by itself)."""
    if sys.version_info >= (3, 12) or not hasattr(asyncio, "PidfdChildWatcher"):
        return
    try:
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)
    except (OSError, NotImplementedError) as exc:  # no pidfd on this kernel: keep the default
        log.info("pidfd child watcher unavailable: %s", exc)


def _updates() -> apb.AgentToMaster:
    return apb.AgentToMaster(updates=apb.TaskUpdates())


def _merge_output(message: apb.AgentToMaster, item: tuple[apb.TaskRef, str, str]) -> bool:
    if message.WhichOneof("kind") != "updates":
        return False
    ref, stream, line = item
    outputs = message.updates.outputs
    if outputs and outputs[-1].stream == stream and outputs[-1].ref == ref:
        outputs[-1].lines.append(line)
    else:
        outputs.add(ref=ref, stream=stream, lines=[line])
    return True


def _merge_result(message: apb.AgentToMaster, result: apb.TaskResult) -> bool:
    if message.WhichOneof("kind") != "updates":
        return False
    message.updates.results.append(result)
    return True


def replace_process() -> None:
    """exec this agent again with its own arguments: a stuck Lua thread dies with the image."""
    log.warning("replacing this agent process (pid %d) with a fresh one", os.getpid())
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
