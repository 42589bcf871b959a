"""The gateway's calls (sloth_daemon.gateway): the CLI's command groups answered by a master.

A mixin of MasterServicer: each call decodes the request, calls the master's LocalGateway (the
same code a command runs on a local store) on a thread, and answers its record as JSON
(gateway/records.py). Events these calls record go through the master's bus, so watchers and
hooks see them. Roles: sloth_daemon.master.roles; the interceptor audits the mutating ones.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sloth_daemon.errors import Rejected
from sloth_daemon.gateway.local import LocalGateway
from sloth_daemon.gateway.records import dumps, held_doc
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.master.guards import unary
from sloth_engine.errors import LockHeld, UsageError

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _value(data: bytes, what: str) -> Any:
    """A JSON value of a request: bad JSON is bad input (INVALID_ARGUMENT), not a failure."""
    try:
        return json.loads(data or b"null")
    except ValueError as exc:
        raise UsageError(f"{what} is not JSON: {exc}") from None


def _safe(name: str, default: str) -> str:
    """A file name made of the name's safe characters, never `.` or `..`."""
    return _SAFE.sub("_", name)[:100].strip(".") or default


async def _doc(fn: Callable[..., Any], *args: Any) -> mpb.GatewayDoc:
    return mpb.GatewayDoc(doc_json=dumps(await asyncio.to_thread(fn, *args)))


class GatewayRpcs:
    runs: Any
    auth: bool

    def _gateway(self) -> LocalGateway:
        gateway = self.__dict__.get("_local_gateway")
        if gateway is None:
            bus = self.runs.bus
            gateway = self.__dict__["_local_gateway"] = LocalGateway(
                self.runs.store, emit=bus.publish, source="master", owns_store=False
            )
        return gateway

    # ---- state and locks ------------------------------------------------------------------

    @unary
    async def GetStateValue(self, request: mpb.StateKeyRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().state.get, request.namespace, request.key)

    @unary
    async def SetStateValue(self, request: mpb.SetStateValueRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        value = _value(request.value_json, "the value")
        owner = request.owner or "rpc"
        state = self._gateway().state
        return await _doc(state.set, request.namespace, request.key, value, request.ttl or None, owner)

    @unary
    async def DeleteStateValue(self, request: mpb.StateKeyRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().state.delete, request.namespace, request.key)

    @unary
    async def AcquireStateLock(self, request: mpb.StateLockRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        def take() -> dict[str, Any]:
            try:
                grant = self._gateway().state.lock(
                    request.name, request.holder, request.ttl, request.wait, request.reason
                )
            except LockHeld as exc:  # an answer, not a failure: the client raises it again
                return {"held": held_doc(exc)}
            return {"grant": grant}

        return await _doc(take)

    @unary
    async def UnlockState(self, request: mpb.StateLockRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().state.unlock, request.name, request.holder, request.force)

    # ---- hooks ----------------------------------------------------------------------------

    @unary
    async def AddHook(self, request: mpb.AddHookRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        hooks = self._gateway().hooks
        return await _doc(
            hooks.add, request.name, request.source, request.path, list(request.event_types),
            request.stack or None, request.timeout_s or 30.0, request.replace,
        )  # fmt: skip

    @unary
    async def GetHook(self, request: mpb.GatewayName, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().hooks.show, request.name)

    @unary
    async def DeleteHook(self, request: mpb.GatewayName, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().hooks.delete, request.name)

    @unary
    async def SetHookEnabled(self, request: mpb.GatewayEnabled, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().hooks.set_enabled, request.name, request.enabled)

    @unary
    async def TestHook(self, request: mpb.TestHookRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        data = _value(request.data_json, "the event's data") if request.data_json else {}
        return await _doc(self._gateway().hooks.test, request.name, data, request.type or None)

    @unary
    async def HookLogs(self, request: mpb.HookLogsRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        limit = max(1, min(1000, request.limit or 50))
        hooks = self._gateway().hooks
        return await _doc(hooks.executions, request.name or None, request.only_failed, limit)

    # ---- schedules ------------------------------------------------------------------------

    @unary
    async def AddSchedule(self, request: mpb.AddScheduleRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        try:
            return await _doc(self._add_schedule, request)
        except OSError as exc:
            raise UsageError(f"cannot keep the schedule's file: {exc.strerror}") from None

    def _add_schedule(self, request: mpb.AddScheduleRequest) -> Any:
        """Keep the file (and values file) the client sent under the master's home, schedule it."""
        if not request.name or not request.source:
            raise UsageError("a schedule needs a name and the workflow file's text")
        folder = Path(self.runs.home) / "master" / "schedules" / _safe(request.name, "schedule")
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / _safe(Path(request.path).name, "workflow.sloth")
        file.write_text(request.source, encoding="utf-8")
        values = None
        if request.values_source or request.values_path:
            values = folder / ("values-" + _safe(Path(request.values_path).name, "values.yaml"))
            values.write_text(request.values_source, encoding="utf-8")
        return self._gateway().schedules.add(
            request.name, request.cron, str(file), request.workflow, str(values) if values else None,
            request.tz or "UTC", request.overlap or "skip", request.catch_up or "none", request.replace,
        )  # fmt: skip

    @unary
    async def DeleteSchedule(self, request: mpb.GatewayName, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().schedules.delete, request.name)

    # ---- secrets --------------------------------------------------------------------------

    @unary
    async def SetSecret(self, request: mpb.SetSecretRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        secrets = self._gateway().secrets
        return await _doc(secrets.set, request.stack or "default", request.name, request.secret_value)

    @unary
    async def DeleteSecret(self, request: mpb.SecretRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().secrets.delete, request.stack or "default", request.name)

    @unary
    async def RevealSecret(self, request: mpb.SecretRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        """A secret's value: only to an admin token, so only by a master started with --auth."""
        if not getattr(self, "auth", False):
            raise Rejected(
                "this master runs without --auth: it sends no secret's value "
                "(start it with --auth and use an admin token)"
            )
        return await _doc(self._gateway().secrets.get, request.stack or "default", request.name)

    # ---- tokens ---------------------------------------------------------------------------

    @unary
    async def CreateToken(self, request: mpb.CreateTokenRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        tokens = self._gateway().tokens
        return await _doc(tokens.create, request.name, request.role, request.expires_s or None)

    @unary
    async def ListTokens(self, request: mpb.GatewayName, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().tokens.list)

    @unary
    async def RevokeToken(self, request: mpb.GatewayName, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().tokens.revoke, request.name)

    @unary
    async def DeleteToken(self, request: mpb.GatewayName, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().tokens.delete, request.name)

    # ---- events and the installation -----------------------------------------------------

    @unary
    async def GetEvent(self, request: mpb.GetEventRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().events.get, int(request.id))

    @unary
    async def ClearEvents(self, request: mpb.ClearEventsRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await _doc(self._gateway().events.clear, request.before or None)

    @unary
    async def MasterHealth(self, request: mpb.MasterHealthRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        def check() -> dict[str, Any]:
            found, runs = self._gateway().admin.checks(int(request.min_free_mb), bool(request.integrity))
            return {"store": found, "runs": runs}

        return await _doc(check)

    @unary
    async def TailLogs(self, request: mpb.TailLogsRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        def read() -> dict[str, Any]:
            tail: Any = self._gateway().admin.tail(request.run_id or None, request.only or None)
            tail.last = {"events": int(request.after_events), "output": int(request.after_output)}
            rows = tail.read(newest=request.newest if request.newest >= 0 else None)
            return {"rows": rows, "last": dict(tail.last)}

        return await _doc(read)
