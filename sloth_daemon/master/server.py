"""`sloth-daemon master`: wiring of the store, registry, dispatcher, run service and gRPC server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
from sloth_daemon.master.agent_identity import AgentIdentity, ForgedReports
from sloth_daemon.master.auth import AuthInterceptor
from sloth_daemon.master.automation import Automation, AutomationConfig, PublishingRows, new_bus
from sloth_daemon.master.cert_roles import CertRoles
from sloth_daemon.master.connection import AgentConnections
from sloth_daemon.master.dispatcher import Dispatcher
from sloth_daemon.master.ha import campaign, keeper_of
from sloth_daemon.master.ha_gate import status_handler
from sloth_daemon.master.host_tasks import HostTasks
from sloth_daemon.master.metrics import serve_metrics
from sloth_daemon.master.registry import Registry
from sloth_daemon.master.remote_exec import RemoteExec
from sloth_daemon.master.run_service import RunService
from sloth_daemon.master.servicer import MasterServicer
from sloth_daemon.master.store_calls import StoreCalls
from sloth_daemon.master.store_owner import claim_store
from sloth_daemon.tls import TlsFiles, server_credentials
from sloth_engine.errors import UsageError
from sloth_engine.home import sloth_home
from sloth_engine.store import Store
from sloth_engine.store.agents import AgentRows

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest message the master accepts or sends (a 4 MiB workflow file fits with room to spare)."""
SERVICE_NAME = "sloth.v1.MasterService"


@dataclass
class MasterConfig:
    listen: str = "127.0.0.1:50053"
    db: str | None = None
    home: Path = field(default_factory=sloth_home)
    metrics_listen: str | None = None
    ready_file: str | None = None
    startup_grace: float = 10.0
    automation: AutomationConfig = field(default_factory=AutomationConfig)
    ha: bool = False
    """Several masters on one PostgreSQL database: lead only while holding the lease."""
    advertise: str | None = None
    """The address other masters send clients and agents to (default: the bound address)."""
    lease_ttl: float = 10.0
    auth: bool = False
    """Every call needs a token whose role allows it (sloth_daemon.master.auth)."""
    tls: TlsFiles = field(default_factory=TlsFiles)
    """Certificate and key: serve TLS; with a CA too: mutual TLS."""
    allow_plaintext_secrets: bool = False
    """Send granted secrets to agents connected without TLS from off this machine."""
    cert_roles: dict[str, str] = field(default_factory=dict)
    """Mutual TLS without --auth: role by certificate common name (cert_roles.py)."""
    no_local_tasks: bool = False
    """Refuse runs with tasks that would run on the master's host (no delegate_to, no default)."""


def server_options(ha: bool = False) -> list[tuple[str, Any]]:
    if ha:  # agents and clients of several masters ping every second to notice a paused leader
        return [*server_options(), ("grpc.http2.min_ping_interval_without_data_ms", 500)]
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.so_reuseport", 0),
    ]


class Master:
    def __init__(self, config: MasterConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.master_id = uuid.uuid4().hex[:12]
        self.bus = new_bus(store, config.automation)
        self.registry = Registry(PublishingRows(AgentRows(store), self.bus), config.startup_grace)
        self.dispatcher = Dispatcher(self.registry, config.home)
        self.dispatcher.secrets_in_clear = config.allow_plaintext_secrets or bool(config.tls.cert)
        self.runs = RunService(store, self.dispatcher, config.home)
        self.runs.no_local_tasks = config.no_local_tasks
        host = HostTasks(store, config.home, config.db)
        host.job_of = self.runs.job_of
        self.dispatcher.host = self.runs.host = host
        self.automation = Automation(store, self.runs, self.bus, config.automation)
        self.remote_exec = RemoteExec(self.registry)
        self.tokens = store.tokens() if config.auth else None
        self.connections = AgentConnections(
            self.registry, self.dispatcher, self.remote_exec, self.master_id, AgentIdentity(self.tokens)
        )
        self.dispatcher.on_forged = ForgedReports(self._audit)
        self.server: grpc.aio.Server | None = None
        self.address = ""
        self._background: list[asyncio.Task[None]] = []
        self.keeper: Any = None
        """sloth_daemon.master.lease.LeaderElection with --ha."""
        self.owner_lease: Any = None
        """Without --ha: the store's lease this master holds (store_owner.py)."""

    async def start(self) -> str:
        """Load agents, resume unfinished runs, then serve; the bound "host:port".

        With --ha, serve as a standby at once and do the rest when elected (ha.py)."""
        interceptors: list[Any] = []
        if self.config.ha:
            self.keeper, interceptors = keeper_of(self)
        else:
            await self._claim_store()
            await self.resume()
        interceptors.insert(0, self._auth_interceptor())
        server = grpc.aio.server(options=server_options(self.config.ha), interceptors=interceptors)
        mgrpc.add_MasterServiceServicer_to_server(
            MasterServicer(
                self.runs,
                self.registry,
                self.connections,
                self.remote_exec,
                self.automation,
                StoreCalls(self.store),
                auth=self.config.auth,
            ),
            server,
        )
        checker = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(checker, server)
        # `master status`: with --ha the election's; without, the store's lease this master holds.
        keeper = self.keeper if self.keeper is not None else self.owner_lease
        if keeper is not None:
            server.add_generic_rpc_handlers((status_handler(keeper, ha=self.keeper is not None),))
        host = self.config.listen.rpartition(":")[0] or "127.0.0.1"
        try:
            if self.config.tls.cert or self.config.tls.key or self.config.tls.ca:
                port = server.add_secure_port(self.config.listen, server_credentials(self.config.tls))
            else:
                port = server.add_insecure_port(self.config.listen)
        except RuntimeError as exc:
            raise UsageError(f"cannot listen on {self.config.listen}: {exc}") from None
        await server.start()
        for name in ("", SERVICE_NAME):
            await checker.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.server = server
        self.address = f"{host.strip('[]')}:{port}"
        if self.keeper is not None:
            campaign(self, server)
        else:
            if self.owner_lease is not None:
                self.owner_lease.address = self.owner_lease.leader_address = self.address
                self._background.append(asyncio.create_task(self.owner_lease.run()))
            await self.lead()
        if self.config.metrics_listen:
            mhost, mport = serve_metrics(
                self.config.metrics_listen, self.registry, self.dispatcher, self.runs
            )
            log.warning("metrics on http://%s:%d/metrics", mhost, mport)
        if self.config.ready_file:
            _write_atomically(self.config.ready_file, self.address)
        return self.address

    def _auth_interceptor(self) -> AuthInterceptor:
        """Tokens checked with --auth; mutating calls audited as `audit.<Method>` events always."""
        verify = valid_names = None
        if self.tokens is not None:
            verify, valid_names = self.tokens.verify, self.tokens.valid_names
            if not self.config.tls.cert and not _loopback(self.config.listen):
                log.warning(
                    "--auth without --tls-cert on %s: tokens travel in clear text", self.config.listen
                )
        elif not _loopback(self.config.listen):
            log.warning(
                "listening on %s without --auth: anyone who reaches this port can run commands on "
                "every agent (see docs/SECURITY.md)",
                self.config.listen,
            )

        cert_roles = CertRoles(self.config.cert_roles) if self.config.tls.ca else None
        return AuthInterceptor(verify, self._audit, valid_names, cert_roles)

    def _audit(self, kind: str, data: dict[str, Any]) -> None:
        self.bus.publish(kind, data, source="master.audit")

    async def _claim_store(self) -> None:
        """One master per store: hold its lease or refuse to start, naming the holder."""

        address = self.config.advertise or self.config.listen
        self.owner_lease = await asyncio.to_thread(
            claim_store, self.store, self.master_id, address, self.config.lease_ttl
        )
        self.dispatcher.may_dispatch = self.owner_lease.may_dispatch

    async def resume(self) -> None:
        """Load agents and prepare the unfinished runs (before agents can connect)."""
        self.registry.load()
        resumed = await self.runs.resume_unfinished()
        if resumed:
            log.warning("resuming %d unfinished run(s): %s", len(resumed), ", ".join(resumed))

    async def lead(self) -> None:
        """What only the leading master runs: agents' liveness, their rows, schedules, events."""
        self._background += [
            asyncio.create_task(self.registry.watch()),
            asyncio.create_task(self.registry.flush_forever()),
            asyncio.create_task(self.runs.record_kept()),
        ]
        await self.automation.start()

    async def stop(self) -> None:
        """Stop serving; unfinished runs stay unfinished in the store and resume at the next start."""
        if self.server is not None:
            await self.server.stop(1.0)
        self.runs.release_resumed()  # a clean stop: what it resumed was not poison
        for task in self._background:
            task.cancel()
        await self.automation.stop()
        await self.registry.flush()
        for keeper in (self.keeper, self.owner_lease):
            if keeper is not None:
                await asyncio.to_thread(keeper.release)


async def serve(config: MasterConfig, store: Store) -> None:
    master = Master(config, store)
    address = await master.start()
    log.warning("master listening on %s", address)  # stamped, in --log-format
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await master.stop()
    store.close()
    # Leave the runs in flight as they are (unfinished, resumable): cancelling them at exit
    # would record them as cancelled.
    os._exit(0)


def _loopback(listen: str) -> bool:
    import ipaddress

    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "", "0.0.0.0"-like names, host names: assume reachable from outside
        return False


def _write_atomically(path: str, text: str) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(target)
