"""What a master that does not lead answers (HA): reads, the HA status, and where the leader is.

A standby serves the calls that only read the shared store (runs, logs, events, health, the
HA status). Every other call is refused: FAILED_PRECONDITION with the leader's address in the
trailing metadata `sloth-leader` (clients and agents go there), or UNAVAILABLE while no
master leads yet or this one is still resuming runs (they try again).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from sloth_daemon.leader import LEADER_KEY, STATUS_METHOD
from sloth_daemon.master.lease import LeaderElection, Role

_SERVICE = "/sloth.v1.MasterService/"
READS = frozenset(
    {
        _SERVICE + "GetRun",
        _SERVICE + "ListRuns",
        _SERVICE + "GetRunLogs",
        _SERVICE + "ListEvents",
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        STATUS_METHOD,
    }
)


class LeaderGate(grpc.aio.ServerInterceptor):
    def __init__(self, keeper: LeaderElection) -> None:
        self.keeper = keeper

    async def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or self.keeper.role is Role.LEADER or details.method in READS:
            return handler
        return _refusing(handler, self._refuse)

    async def _refuse(self, context: Any) -> None:
        keeper = self.keeper
        leader = keeper.leader_address
        if keeper.role is Role.STANDBY and leader and leader != keeper.address:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"this master is a standby; the leader is {leader}",
                trailing_metadata=((LEADER_KEY, leader),),
            )
        why = {
            Role.STANDBY: "no master leads right now (election in progress)",
            Role.STARTING: "this master was just elected and is resuming runs",
            Role.DEPOSED: "this master lost its lease",
        }.get(keeper.role, "not the leader")
        await context.abort(grpc.StatusCode.UNAVAILABLE, why)


def _refusing(handler: Any, refuse: Callable[[Any], Any]) -> Any:
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    streaming = handler.response_streaming

    async def unary(request: Any, context: Any) -> Any:
        await refuse(context)

    async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
        await refuse(context)
        yield None  # pragma: no cover - refuse always aborts

    make = kinds[(handler.request_streaming, streaming)]
    return make(
        stream if streaming else unary,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def status_handler(keeper: LeaderElection, ha: bool = True) -> grpc.GenericRpcHandler:
    """`sloth.v1.HaService/GetStatus`: the HA status as JSON (no generated code needed); `ha`
    False for a master without --ha (its keeper is the store's lease: it leads alone)."""

    async def get_status(request: bytes, context: Any) -> bytes:
        status = await asyncio.to_thread(keeper.status)
        if not ha:
            status["standbys"] = []
        return json.dumps({"ha": ha, **status}).encode()

    service, method = STATUS_METHOD.strip("/").split("/")
    return grpc.method_handlers_generic_handler(
        service,
        {method: grpc.unary_unary_rpc_method_handler(get_status, lambda b: b, lambda b: b)},
    )
