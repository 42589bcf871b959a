"""The client library of a master: plain Python values in and out, the project's errors raised.

Upper layers (CLI, console) use this facade and never import grpc: a failed call raises
NotFound, UsageError, Rejected, MasterUnavailable (from sloth_daemon.errors / sloth_engine.errors,
all SlothError) through the single status table of sloth_daemon.status.

    with MasterClient("127.0.0.1:50053") as master:
        plan = master.submit_run("deploy.sloth", source)
        for item in master.follow_run(plan[0].run_id):
            ...  # RunEvent, then the RunResult at the end
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from sloth_daemon.console_client import ConsoleCalls
from sloth_daemon.errors import MasterUnavailable
from sloth_daemon.gateway_client import GatewayCalls
from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
from sloth_daemon.leader import STATUS_METHOD, MasterList, channel_options
from sloth_daemon.status import ERROR_CLASS_KEY, error_of
from sloth_daemon.tls import TlsFiles, channel_credentials
from sloth_daemon.tracing import metadata as trace_metadata
from sloth_daemon.wire import (
    agent_from_proto,
    event_from_proto,
    event_info_from_proto,
    log_from_proto,
    report_from_proto,
    run_from_proto,
    to_json,
    workflow_info_from_proto,
)
from sloth_engine.executor.results import RunEvent, RunResult

T = TypeVar("T")
DEFAULT_MASTER = "127.0.0.1:50053"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
]


def master_address(given: str | None = None) -> str | None:
    """`--master`, else $SLOTH_MASTER, else None (work locally)."""
    return given or os.environ.get("SLOTH_MASTER") or None


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    workflow: str
    tasks: list[str]


@dataclass
class RunCursor:
    """Where a watch of a run got to (the master's incarnation and the last update)."""

    epoch: str = ""
    seq: int = 0


@dataclass(frozen=True)
class ExecLine:
    stream: str
    line: str


@dataclass(frozen=True)
class ExecExit:
    exit_code: int
    error: str = ""


class MasterClient(ConsoleCalls, GatewayCalls):
    def __init__(
        self,
        address: str = DEFAULT_MASTER,
        timeout: float = 15.0,
        token: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.masters = MasterList(address)
        """`a:1,b:2,c:3`: several masters (HA); calls follow the leader among them."""
        self.timeout = timeout
        self._token = token if token is not None else os.environ.get("SLOTH_TOKEN") or None
        self._tls = tls if tls is not None else TlsFiles.of(None, None, None)
        """TLS files (default: $SLOTH_TLS_CA / _CERT / _KEY); none: a plain channel."""
        self._open(self.masters.current)

    def _open(self, address: str) -> None:
        self.address = address
        options = channel_options(CHANNEL_OPTIONS, self.masters.several)
        if self._tls.enabled:
            self._channel = grpc.secure_channel(address, channel_credentials(self._tls), options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        if self._token:  # every call carries `authorization: Bearer TOKEN`
            self._channel = grpc.intercept_channel(self._channel, _Bearer(self._token))
        self._stub = mgrpc.MasterServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> MasterClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- runs -------------------------------------------------------------------------------

    def submit_run(
        self,
        path: str,
        source: str,
        workflow: str = "",
        values: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        max_parallel: int | None = None,
        stack: str | None = None,
        delegate_to: str | None = None,
        files: dict[str, str] | None = None,
    ) -> list[PlannedRun]:
        request = mpb.SubmitRunRequest(
            files=[apb.BundleFile(path=p, source=t) for p, t in sorted((files or {}).items())],
            path=path,
            source=source,
            workflow=workflow or "",
            values_json=to_json(values or {}),
            params_json=to_json(params or {}),
            max_parallel=max_parallel or 0,
            stack=stack or "",
            delegate_to=delegate_to or "",
        )
        # The caller's span (if tracing) travels as W3C `traceparent` metadata: the runs' spans
        # on the master are its children.
        answer = self._call(
            self._stub.SubmitRun, request, timeout=max(self.timeout, 60.0), metadata=trace_metadata()
        )
        return [PlannedRun(r.run_id, r.workflow, list(r.tasks)) for r in answer.runs]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run with all its attempts (fetched page after page)."""
        page = self._call(self._stub.GetRun, mpb.GetRunRequest(run_id=run_id))
        run = run_from_proto(page)
        while page.next_page_token:
            request = mpb.GetRunRequest(run_id=run_id, page_token=page.next_page_token)
            page = self._call(self._stub.GetRun, request)
            run["tasks"].extend(run_from_proto(page)["tasks"])
        return run

    def list_runs(
        self, workflow: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        request = mpb.ListRunsRequest(workflow=workflow or "", status=status or "", limit=limit)
        return [run_from_proto(r, with_tasks=False) for r in self._call(self._stub.ListRuns, request).runs]

    def cancel_run(self, run_id: str, reason: str = "", force: bool = False) -> None:
        request = mpb.CancelRunRequest(run_id=run_id, reason=reason, force=force)
        self._call(self._stub.CancelRun, request)

    def run_logs(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]:
        """Every captured line (fetched page after page)."""
        lines: list[dict[str, Any]] = []
        token = ""
        while True:
            request = mpb.GetRunLogsRequest(run_id=run_id, task=task or "", page_token=token)
            page = self._call(self._stub.GetRunLogs, request)
            lines.extend(log_from_proto(line) for line in page.lines)
            token = page.next_page_token
            if not token:
                return lines

    def watch_run(
        self, run_id: str, epoch: str = "", after_seq: int = 0, report_only: bool = False
    ) -> Iterator[mpb.RunUpdate]:
        """The raw updates of one watch (events, then the report); errors as project errors."""
        request = mpb.WatchRunRequest(
            run_id=run_id, epoch=epoch, after_seq=after_seq, report_only=report_only
        )
        return self._stream(lambda: self._stub.WatchRun(request))

    def follow_run(
        self,
        run_id: str,
        reconnect_for: float = 60.0,
        on_reconnect: Callable[[str], None] | None = None,
        cursor: RunCursor | None = None,
        events: bool = True,
    ) -> Iterator[RunEvent | RunResult]:
        """Events of a run as they happen, then its RunResult; rides out a master restart.

        Pass the same `cursor` to a second call to go on where an interrupted one stopped;
        `events=False` waits for the report alone.
        """
        cursor = cursor or RunCursor()
        give_up_at: float | None = None
        while True:
            try:
                for update in self.watch_run(run_id, cursor.epoch, cursor.seq, not events):
                    cursor.epoch, cursor.seq, give_up_at = update.epoch, update.seq, None
                    if update.WhichOneof("kind") == "finished":
                        yield report_from_proto(update.finished)
                        return
                    yield event_from_proto(update.event)
                raise MasterUnavailable("the watch ended before the run did")
            except MasterUnavailable as exc:
                now = time.monotonic()
                give_up_at = give_up_at or now + reconnect_for
                if now >= give_up_at:
                    raise
                if on_reconnect is not None:
                    on_reconnect(str(exc))
                time.sleep(0.5)

    # ---- agents -----------------------------------------------------------------------------

    def list_agents(self) -> list[dict[str, Any]]:
        return [
            agent_from_proto(a) for a in self._call(self._stub.ListAgents, mpb.ListAgentsRequest()).agents
        ]

    def get_agent(self, name: str) -> dict[str, Any]:
        return agent_from_proto(self._call(self._stub.GetAgent, mpb.GetAgentRequest(name=name)))

    def stop_agent(self, name: str, reason: str = "") -> None:
        self._call(self._stub.StopAgent, mpb.StopAgentRequest(name=name, reason=reason))

    def exec_on_agent(self, name: str, command: str, timeout: float = 0.0) -> Iterator[ExecLine | ExecExit]:
        request = mpb.ExecOnAgentRequest(name=name, command=command, timeout_s=timeout)
        for out in self._stream(lambda: self._stub.ExecOnAgent(request)):
            if out.done:
                yield ExecExit(out.exit_code, out.error)
                return
            yield ExecLine(out.stream, out.line)

    def watch_agents(self, name: str = "") -> Iterator[dict[str, Any]]:
        for info in self._stream(lambda: self._stub.WatchAgents(mpb.WatchAgentsRequest(name=name))):
            yield agent_from_proto(info)

    # ---- events, schedules, workflows ------------------------------------------------------

    def list_events(
        self,
        type_prefix: str | None = None,
        since: float | None = None,
        stack: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        request = mpb.ListEventsRequest(
            type_prefix=type_prefix or "", since=since or 0.0, stack=stack or "", limit=limit
        )
        return [event_info_from_proto(e) for e in self._call(self._stub.ListEvents, request).events]

    def watch_events(
        self, type_prefix: str | None = None, stack: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Events as they happen on the master, until the caller stops iterating."""
        request = mpb.WatchEventsRequest(type_prefix=type_prefix or "", stack=stack or "")
        for event in self._stream(lambda: self._stub.WatchEvents(request)):
            yield event_info_from_proto(event)

    def fire_schedule(self, name: str) -> list[str]:
        """Fire a schedule now; the run ids it started."""
        answer = self._call(self._stub.FireSchedule, mpb.FireScheduleRequest(name=name), timeout=60.0)
        return list(answer.run_ids)

    def list_workflows(self) -> list[dict[str, Any]]:
        """The workflows of the master's watched folder (and files that do not load)."""
        answer = self._call(self._stub.ListWorkflows, mpb.ListWorkflowsRequest())
        return [workflow_info_from_proto(w) for w in answer.workflows]

    def health(self) -> str:
        """'SERVING' when the master is up (the standard gRPC health service)."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self._channel)
        answer = self._call(stub.Check, health_pb2.HealthCheckRequest(service=""))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

    # ---- inside -------------------------------------------------------------------------------

    def ha_status(self) -> dict[str, Any] | None:
        """Leader, standbys, epoch and since when; `ha` False for a master without --ha (it
        leads alone). None from an older master without --ha (it does not serve the status)."""
        import json

        def call(request: bytes, timeout: float) -> Any:
            method = self._channel.unary_unary(STATUS_METHOD, lambda b: b, lambda b: b)
            try:
                return method(request, timeout=timeout)
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.UNIMPLEMENTED:  # type: ignore[attr-defined]
                    return b"null"
                raise

        found = json.loads(self._call(call, b""))
        return found if isinstance(found, dict) else None

    def _call(
        self,
        method: Callable[..., T],
        request: Any,
        timeout: float | None = None,
        metadata: list[tuple[str, str]] | None = None,
    ) -> T:
        name = next((k for k, v in vars(self._stub).items() if v is method), None)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                if metadata:
                    return method(request, timeout=timeout or self.timeout, metadata=metadata)
                return method(request, timeout=timeout or self.timeout)
            except grpc.RpcError as exc:
                if not self._follow(exc, deadline):
                    raise _error(exc) from None
                if name is not None:
                    method = getattr(self._stub, name)

    def _stream(self, start: Callable[[], Iterator[T]]) -> Iterator[T]:
        deadline = time.monotonic() + self.timeout
        while True:
            call = start()
            started = False
            try:
                for item in call:
                    started = True
                    yield item
                return
            except grpc.RpcError as exc:
                if started or not self._follow(exc, deadline):
                    raise _error(exc) from None
            finally:
                cancel = getattr(call, "cancel", None)
                if cancel is not None:
                    cancel()

    def _follow(self, exc: grpc.RpcError, deadline: float) -> bool:
        """With several masters: move to the leader (or the next master) and say to call again."""
        code = exc.code() if hasattr(exc, "code") else None
        if time.monotonic() >= deadline or not self.masters.follow(exc, code.name if code else ""):
            return False
        if self.masters.current == self.address:
            return False
        self._channel.close()
        if self.masters.several and code is grpc.StatusCode.UNAVAILABLE:
            time.sleep(0.1)
        self._open(self.masters.current)
        return True


def _error(exc: grpc.RpcError) -> Exception:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return error_of(code, details, _error_class(exc))


def _error_class(exc: grpc.RpcError) -> str:
    try:
        trailing = exc.trailing_metadata() or ()  # type: ignore[attr-defined]
    except Exception:  # not a call's error (a channel that never connected)
        return ""
    return next((str(v) for k, v in trailing if k == ERROR_CLASS_KEY), "")


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the bearer token to every call's metadata."""

    def __init__(self, token: str) -> None:
        self.pair = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self.pair]
        return (
            details._replace(metadata=metadata)
            if hasattr(details, "_replace")
            else _Details(details, metadata)
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: Any, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)
