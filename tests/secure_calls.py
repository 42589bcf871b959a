"""Raw MasterService calls for the security tests: any method by name, with a token and TLS.

The client library raises the project's errors; these tests want the exact status code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.tls import TlsFiles, channel_credentials

SERVICE = mpb.DESCRIPTOR.services_by_name["MasterService"]


def channel(address: str, tls: TlsFiles | None = None) -> grpc.Channel:
    if tls is not None and tls.enabled:
        return grpc.secure_channel(address, channel_credentials(tls))
    return grpc.insecure_channel(address)


def call_code(
    chan: grpc.Channel, name: str, request: Any = None, token: str | None = None, timeout: float = 5.0
) -> grpc.StatusCode:
    """The status code of one call of `name` (streams: read until the end or the timeout)."""
    method = SERVICE.methods_by_name[name]
    in_type = _message_class(method.input_type)
    out_type = _message_class(method.output_type)
    request = request if request is not None else in_type()
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    path = f"/{SERVICE.full_name}/{name}"
    kinds = (method.client_streaming, method.server_streaming)
    make = {
        (False, False): chan.unary_unary,
        (False, True): chan.unary_stream,
        (True, True): chan.stream_stream,
        (True, False): chan.stream_unary,
    }[kinds]
    stub = make(path, request_serializer=in_type.SerializeToString, response_deserializer=out_type.FromString)
    try:
        if method.client_streaming:
            answer = stub(iter([request]), timeout=timeout, metadata=metadata)
        else:
            answer = stub(request, timeout=timeout, metadata=metadata)
        if method.server_streaming:
            for _ in answer:
                pass
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _message_class(descriptor: Any) -> Any:
    from sloth_daemon.gen.sloth.v1 import store_pb2

    for module in (mpb, apb, store_pb2):
        found = getattr(module, descriptor.name, None)
        if found is not None and found.DESCRIPTOR.full_name == descriptor.full_name:
            return found
    raise LookupError(descriptor.full_name)


def rpc_names() -> Iterator[str]:
    yield from SERVICE.methods_by_name
