"""The client calls of the gateway (sloth_daemon.gateway): the engine's records out.

A mixin of MasterClient (it uses the client's `_call` and `_stub`), shared by the CLI's
RemoteGateway and the console: state values and locks, hooks, schedules, secrets, tokens,
events and the installation's health and logs. A refused or failed call raises the project's
error (sloth_daemon.status); LockHeld comes back as LockHeld.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sloth_daemon.gateway.values import Check, Found, HookShow, Unlocked
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_engine.durations import parse_duration

if TYPE_CHECKING:
    from sloth_engine.store.hooks import ExecutionRow, HookDef
    from sloth_engine.store.locks import LockGrant
    from sloth_engine.store.schedules import ScheduleDef
    from sloth_engine.store.tokens import TokenInfo


class _Records:
    """sloth_daemon.gateway.records, loaded at the first call that builds a record: the engine's
    record types live beside the store's code, which a console never loads to start."""

    def __getattr__(self, name: str) -> Any:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.gateway import records

        return getattr(records, name)


rec = _Records()


class GatewayCalls:
    _stub: Any
    _call: Any

    def _doc(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        return rec.loads(self._call(method, request, timeout=timeout).doc_json)

    # ---- state and locks ------------------------------------------------------------------

    def state_get(self, namespace: str, key: str) -> Found:
        doc = self._doc(self._stub.GetStateValue, mpb.StateKeyRequest(namespace=namespace, key=key))
        return Found(bool(doc["found"]), doc.get("value"))

    def state_set(
        self, namespace: str, key: str, value: Any, ttl: str | None = None, owner: str = ""
    ) -> None:
        request = mpb.SetStateValueRequest(
            namespace=namespace, key=key, value_json=json.dumps(value).encode(), ttl=ttl or "", owner=owner
        )
        self._doc(self._stub.SetStateValue, request)

    def state_delete(self, namespace: str, key: str) -> bool:
        return bool(self._doc(self._stub.DeleteStateValue, mpb.StateKeyRequest(namespace=namespace, key=key)))

    def state_lock(self, name: str, holder: str, ttl: str, wait: str = "", reason: str = "") -> LockGrant:
        request = mpb.StateLockRequest(name=name, holder=holder, ttl=ttl, wait=wait, reason=reason)
        try:  # the call waits as long as the lock may be waited for
            waits = parse_duration(wait) if wait else 0.0
        except ValueError:
            waits = 0.0
        doc = self._doc(self._stub.AcquireStateLock, request, timeout=15.0 + waits)
        if "held" in doc:
            raise rec.lock_held(doc["held"])
        return rec.lock_grant(doc["grant"])

    def state_unlock(self, name: str, holder: str = "", force: bool = False) -> Unlocked:
        doc = self._doc(self._stub.UnlockState, mpb.StateLockRequest(name=name, holder=holder, force=force))
        held = rec.lock_info(doc["held"]) if doc.get("held") else None
        return Unlocked(bool(doc["released"]), held)

    # ---- hooks ----------------------------------------------------------------------------

    def hook_add(
        self,
        name: str,
        source: str,
        path: str = "",
        event_types: list[str] | None = None,
        stack: str | None = None,
        timeout_s: float = 30.0,
        replace: bool = False,
    ) -> HookDef:
        request = mpb.AddHookRequest(
            name=name, source=source, path=path, event_types=list(event_types or []),
            stack=stack or "", timeout_s=timeout_s, replace=replace,
        )  # fmt: skip
        return rec.hook_def(self._doc(self._stub.AddHook, request, timeout=60.0))

    def hook_show(self, name: str) -> HookShow:
        doc = self._doc(self._stub.GetHook, mpb.GatewayName(name=name))
        return HookShow(rec.hook_def(doc["hook"]), list(doc["recent"]))

    def hook_delete(self, name: str) -> None:
        self._doc(self._stub.DeleteHook, mpb.GatewayName(name=name))

    def hook_set_enabled(self, name: str, enabled: bool) -> None:
        self._doc(self._stub.SetHookEnabled, mpb.GatewayEnabled(name=name, enabled=enabled))

    def hook_test(
        self, name: str, data: dict[str, Any] | None = None, kind: str | None = None
    ) -> ExecutionRow:
        request = mpb.TestHookRequest(name=name, data_json=json.dumps(data or {}).encode(), type=kind or "")
        return rec.execution_row(self._doc(self._stub.TestHook, request, timeout=300.0))

    def hook_logs(
        self, name: str | None = None, only_failed: bool = False, limit: int = 50
    ) -> list[dict[str, Any]]:
        request = mpb.HookLogsRequest(name=name or "", only_failed=only_failed, limit=limit)
        return list(self._doc(self._stub.HookLogs, request))

    # ---- schedules ------------------------------------------------------------------------

    def schedule_add(
        self,
        name: str,
        cron: str,
        path: str,
        source: str,
        workflow: str = "",
        values: tuple[str, str] | None = None,
        tz: str = "UTC",
        overlap: str = "skip",
        catch_up: str = "none",
        replace: bool = False,
    ) -> ScheduleDef:
        """Schedule a workflow file's text (`values`: the values file's path and text)."""
        values_path, values_source = values or ("", "")
        request = mpb.AddScheduleRequest(
            name=name, cron=cron, path=path, source=source, workflow=workflow,
            values_path=values_path, values_source=values_source, tz=tz, overlap=overlap,
            catch_up=catch_up, replace=replace,
        )  # fmt: skip
        return rec.schedule_def(self._doc(self._stub.AddSchedule, request, timeout=60.0))

    def schedule_delete(self, name: str) -> None:
        self._doc(self._stub.DeleteSchedule, mpb.GatewayName(name=name))

    # ---- secrets and tokens ---------------------------------------------------------------

    def secret_set(self, stack: str, name: str, value: str) -> bool:
        request = mpb.SetSecretRequest(stack=stack, name=name, secret_value=value)
        return bool(self._doc(self._stub.SetSecret, request))

    def secret_delete(self, stack: str, name: str) -> None:
        self._doc(self._stub.DeleteSecret, mpb.SecretRequest(stack=stack, name=name))

    def secret_reveal(self, stack: str, name: str) -> str:
        return str(self._doc(self._stub.RevealSecret, mpb.SecretRequest(stack=stack, name=name)))

    def token_create(self, name: str, role: str, expires_s: float | None = None) -> str:
        request = mpb.CreateTokenRequest(name=name, role=role, expires_s=expires_s or 0.0)
        return str(self._doc(self._stub.CreateToken, request))

    def token_list(self) -> list[TokenInfo]:
        return [rec.token_info(t) for t in self.token_rows()]

    def token_rows(self) -> list[dict[str, Any]]:
        """The tokens as plain rows (name, role, created_at, expires_at, revoked_at): the console's."""
        return list(self._doc(self._stub.ListTokens, mpb.GatewayName()))

    def token_revoke(self, name: str) -> None:
        self._doc(self._stub.RevokeToken, mpb.GatewayName(name=name))

    def token_delete(self, name: str) -> None:
        self._doc(self._stub.DeleteToken, mpb.GatewayName(name=name))

    # ---- events and the installation -----------------------------------------------------

    def event_get(self, event_id: int) -> dict[str, Any]:
        return dict(self._doc(self._stub.GetEvent, mpb.GetEventRequest(id=event_id)))

    def events_clear(self, before: float | None = None) -> int:
        return int(self._doc(self._stub.ClearEvents, mpb.ClearEventsRequest(before=before or 0.0)))

    def master_health(
        self, min_free_mb: int = 500, integrity: bool = False
    ) -> tuple[list[Check], list[Check]]:
        """The checks of the master's store and disks, and of its runs."""
        request = mpb.MasterHealthRequest(min_free_mb=min_free_mb, integrity=integrity)
        doc = self._doc(self._stub.MasterHealth, request, timeout=120.0)
        return [(c, s, d) for c, s, d in doc["store"]], [(c, s, d) for c, s, d in doc["runs"]]

    def tail_logs(
        self, run_id: str | None, only: str | None, newest: int | None, last: dict[str, int]
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        request = mpb.TailLogsRequest(
            run_id=run_id or "", only=only or "", newest=-1 if newest is None else newest,
            after_events=last.get("events", 0), after_output=last.get("output", 0),
        )  # fmt: skip
        doc = self._doc(self._stub.TailLogs, request)
        return list(doc["rows"]), {k: int(v) for k, v in doc["last"].items()}
