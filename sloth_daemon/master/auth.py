"""The master's one server interceptor: who calls (token, certificate), may they, and the audit.

With `--auth`, a call needs `authorization: Bearer TOKEN` naming a valid token whose role the
method's entry in roles.METHOD_NEEDS allows: none or an unknown, revoked or expired token is
UNAUTHENTICATED, a role too small PERMISSION_DENIED. Tokens are looked up on every call (no
cache), so a revoked token is refused at once; a stream's token is re-checked every second
while it lasts (one query for all streams), and a stream whose token was revoked or expired is
closed with UNAUTHENTICATED. Without `--auth` under mutual TLS, the client certificate's role
(cert_roles.py) is checked instead; without either every call passes.

Either way every mutating call (roles.mutates) is recorded as an event `audit.<Method>`: who
(token name, else the client certificate's subject, else "anonymous"), the method, a short
summary of the request (sizes, never the contents of sources, values or params), the outcome
("ok" or the status code name) and the peer.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from sloth_daemon.master.cert_roles import CertRoles
from sloth_daemon.master.roles import METHOD_NEEDS, OPEN_METHODS, Need, allows, mutates
from sloth_engine.store.tokens import TokenInfo

log = logging.getLogger(__name__)

Verify = Callable[[str], TokenInfo | None]
Record = Callable[[str, dict[str, Any]], Any]
_HIDDEN_FIELDS = ("source", "values_json", "params_json", "value_json", "secret_value", "values_source")
"""Request fields audited by size only: workflow text, values and secrets."""
ValidNames = Callable[[], set[str]]
RECHECK_EVERY = 1.0
"""Seconds between two checks of the live streams' tokens."""
_MAX_FIELD = 160


@dataclass(frozen=True)
class Caller:
    who: str
    role: str = ""
    token: str = ""
    cert: str = ""
    agent: str | None = None
    """The agent name the token is bound to (an agent's own token)."""
    cert_cn: str = ""
    """The client certificate's common name when it is the credential (mTLS without --auth)."""


@dataclass(eq=False)
class StreamCall:
    """A streaming call in progress: what the handler may ask of the gate (connection.py)."""

    gate: AuthInterceptor
    method: str
    caller: Caller
    context: Any
    task: asyncio.Task[Any] | None
    token: str = ""
    """The token re-checked while the stream lasts (the agent's own token once it has one)."""
    revoked: bool = False

    async def refuse(self, code: grpc.StatusCode, why: str, request: Any = None) -> None:
        """Audit the refusal and end the call with `code`."""
        await self.gate.refuse(self.method, self.caller, self.context, request, code, why)


_CURRENT: contextvars.ContextVar[StreamCall | None] = contextvars.ContextVar(
    "sloth_stream_call", default=None
)


def current_call() -> StreamCall | None:
    """The streaming call this handler serves (set by the interceptor), else None."""
    return _CURRENT.get()


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        verify: Verify | None,
        record: Record,
        valid_names: ValidNames | None = None,
        cert_roles: CertRoles | None = None,
    ) -> None:
        self.verify = verify
        """Looks a bearer token up (None: authentication is off)."""
        self.record = record
        self.valid_names = valid_names
        """Names of the tokens valid now (live streams are re-checked against it)."""
        self.cert_roles = cert_roles
        """Under mutual TLS without --auth: the certificates' roles."""
        self.streams: set[StreamCall] = set()
        self._watcher: asyncio.Task[None] | None = None

    async def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = await continuation(details)
        method = details.method
        if handler is None or method in OPEN_METHODS:
            return handler
        return _wrapped(handler, _Call(self, method))

    async def admit(self, method: str, context: Any, request: Any = None) -> Caller:
        """The caller, or abort with UNAUTHENTICATED / PERMISSION_DENIED."""
        cert = _cert_subject(context)
        if self.verify is None:
            return await self._admit_cert(method, context, request, cert)
        bearer = _bearer(context)
        info = await asyncio.to_thread(self.verify, bearer) if bearer else None
        if info is None:
            caller = Caller(cert or "anonymous", cert=cert)
            why = (
                "a valid token is needed (--token or $SLOTH_TOKEN)"
                if not bearer
                else "invalid, expired or revoked token"
            )
            await self.refuse(method, caller, context, request, grpc.StatusCode.UNAUTHENTICATED, why)
        assert info is not None
        caller = Caller(info.name, info.role, info.name, cert, agent=info.agent)
        await self._check_role(method, caller, context, request, f"token '{info.name}'")
        return caller

    async def _admit_cert(self, method: str, context: Any, request: Any, cert: str) -> Caller:
        """Without --auth: under mutual TLS the certificate's role decides, else all pass."""
        found = self.cert_roles.identity(context) if self.cert_roles is not None else None
        if found is None:
            return Caller(cert or "anonymous", cert=cert)
        caller = Caller(found.subject, found.role, cert=cert, cert_cn=found.cn)
        await self._check_role(method, caller, context, request, f"certificate {found.subject}")
        return caller

    async def _check_role(self, method: str, caller: Caller, context: Any, request: Any, who: str) -> None:
        need = METHOD_NEEDS.get(method)
        if need is None or not allows(caller.role, need):
            wanted = "an unlisted method" if need is None else f"role {_role_name(need)}"
            name = method.rpartition("/")[2]
            why = f"{who} (role {caller.role}) may not call {name}: needs {wanted}"
            await self.refuse(method, caller, context, request, grpc.StatusCode.PERMISSION_DENIED, why)

    # ---- live streams: closed when their token is revoked or expires ------------------------

    def track(self, call: StreamCall) -> None:
        if self.verify is None or self.valid_names is None or not call.token or call.task is None:
            return
        self.streams.add(call)
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._recheck_forever())

    def untrack(self, call: StreamCall) -> None:
        self.streams.discard(call)

    async def _recheck_forever(self) -> None:
        while self.streams:
            await asyncio.sleep(RECHECK_EVERY)
            await self.recheck()

    async def recheck(self) -> None:
        """Cancel the streams whose token is no longer valid (revoked, expired, deleted)."""
        if not self.streams or self.valid_names is None:
            return
        try:
            valid = await asyncio.to_thread(self.valid_names)
        except Exception as exc:  # the store is away: keep the streams, look again next time
            log.warning("cannot re-check the tokens of %d live streams: %s", len(self.streams), exc)
            return
        for call in list(self.streams):
            if call.token not in valid and not call.revoked and call.task is not None:
                call.revoked = True
                call.task.cancel()

    async def refuse(
        self, method: str, caller: Caller, context: Any, request: Any, code: grpc.StatusCode, why: str
    ) -> None:
        await self.audit(method, caller, context, request, code.name)
        await context.abort(code, why)

    async def audit(self, method: str, caller: Caller, context: Any, request: Any, outcome: str) -> None:
        if not mutates(method):
            return
        name = method.rpartition("/")[2]
        data = {
            "who": caller.who,
            "role": caller.role,
            "token": caller.token,
            "cert": caller.cert,
            "method": name,
            "request": summary(request),
            "outcome": outcome,
            "peer": _peer(context),
        }
        try:
            await asyncio.to_thread(self.record, f"audit.{name}", data)
        except Exception as exc:  # the call's outcome must not depend on the audit's write
            log.warning("cannot record the audit event of %s: %s", name, exc)  # one line, no traceback


class _Call:
    """One method's wrapper: admit, run, audit."""

    def __init__(self, gate: AuthInterceptor, method: str) -> None:
        self.gate = gate
        self.method = method

    async def unary(self, behavior: Callable[..., Any], request: Any, context: Any) -> Any:
        caller = await self.gate.admit(self.method, context, request)
        try:
            answer = behavior(request, context)
            if inspect.isawaitable(answer):
                answer = await answer
        except BaseException as exc:
            await self.gate.audit(self.method, caller, context, request, _outcome(context, exc))
            raise
        await self.gate.audit(self.method, caller, context, request, _outcome(context, None))
        return answer

    async def stream(self, behavior: Callable[..., Any], request: Any, context: Any) -> AsyncIterator[Any]:
        caller = await self.gate.admit(self.method, context, request)
        streamed_in = inspect.isasyncgen(request) or hasattr(request, "__aiter__")
        if streamed_in:  # a long-lived stream (the agent's Connect): audited when admitted
            await self.gate.audit(self.method, caller, context, None, "ok")
        call = StreamCall(self.gate, self.method, caller, context, asyncio.current_task(), caller.token)
        _CURRENT.set(call)
        self.gate.track(call)
        try:
            answer = behavior(request, context)
            if inspect.isasyncgen(answer) or hasattr(answer, "__aiter__"):
                async for item in answer:
                    yield item
            elif inspect.isawaitable(answer):
                await answer
        except asyncio.CancelledError:
            if not call.revoked or call.task is None:
                raise
            call.task.uncancel()  # cancelled by recheck(): end with a status, not a cancel
            why = f"token '{call.token}' was revoked or has expired: stream closed"
            await call.refuse(grpc.StatusCode.UNAUTHENTICATED, why)
        except BaseException as exc:
            if not streamed_in:
                await self.gate.audit(self.method, caller, context, request, _outcome(context, exc))
            raise
        finally:
            self.gate.untrack(call)
        if not streamed_in:
            await self.gate.audit(self.method, caller, context, request, _outcome(context, None))


def _wrapped(handler: Any, call: _Call) -> Any:
    if handler.request_streaming and handler.response_streaming:
        inner, make = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        inner, make = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        inner, make = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        inner, make = handler.unary_unary, grpc.unary_unary_rpc_method_handler

    if handler.response_streaming:

        async def behavior(request: Any, context: Any) -> AsyncIterator[Any]:
            async for item in call.stream(inner, request, context):
                yield item
    else:

        async def behavior(request: Any, context: Any) -> Any:  # type: ignore[misc]
            return await call.unary(inner, request, context)

    return make(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _role_name(need: Need) -> str:
    return need.name.lower()


def _bearer(context: Any) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def _cert_subject(context: Any) -> str:
    """The client certificate's subject under mutual TLS, else ""."""
    try:
        auth = context.auth_context() or {}
    except Exception:  # no transport security
        return ""
    for key in ("x509_subject", "x509_common_name"):
        values = auth.get(key)
        if values:
            return values[0].decode(errors="replace")
    return ""


def _peer(context: Any) -> str:
    try:
        return str(context.peer())
    except Exception:
        return ""


def _outcome(context: Any, exc: BaseException | None) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    try:
        code = context.code()
    except Exception:
        code = None
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        return code.name
    if isinstance(code, int) and code != 0:
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), str(code))
    return "ok" if exc is None else "UNKNOWN"


def summary(request: Any) -> str:
    """`field=value` of the request's set fields, values cut short, hidden fields by size."""
    if request is None or not hasattr(request, "ListFields"):
        return ""
    parts = []
    for field, value in request.ListFields():
        if field.name in _HIDDEN_FIELDS:
            parts.append(f"{field.name}=<{len(value)} bytes>")
            continue
        text = repr(value) if isinstance(value, str) else str(value)
        if len(text) > _MAX_FIELD:
            text = text[:_MAX_FIELD] + "..."
        parts.append(f"{field.name}={text}")
    return " ".join(parts)[:1000]
