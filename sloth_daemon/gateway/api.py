"""The gateway: what the CLI's command groups (and the console) do, as one typed interface.

A command asks `open_gateway(args)` once per invocation for a Gateway and never asks again
whether it works locally or through a master: LocalGateway (sloth_daemon.gateway.local) works
on the store with the engine, RemoteGateway (sloth_daemon.gateway.remote) through a master's
client. The master's servicer answers the remote calls with a LocalGateway of its own, so
both ways run the same code and return the same engine records; the commands print them.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any, Protocol

from sloth_engine.secrets.vault import SecretInfo
from sloth_engine.store.hooks import ExecutionRow, HookDef
from sloth_engine.store.locks import LockGrant, LockInfo
from sloth_engine.store.schedules import ScheduleDef
from sloth_engine.store.state import StateEntry
from sloth_engine.store.tokens import TokenInfo

from .values import Check, Fired, Found, HookShow, Retried, Unlocked

__all__ = ["Check", "Fired", "Found", "HookShow", "Retried", "Unlocked"]


class StateApi(Protocol):
    def get(self, namespace: str, key: str) -> Found: ...
    def set(self, namespace: str, key: str, value: Any, ttl: str | None, owner: str) -> None: ...
    def delete(self, namespace: str, key: str) -> bool: ...
    def entries(self, namespace: str, prefix: str = "") -> list[StateEntry]: ...
    def lock(self, name: str, holder: str, ttl: str, wait: str, reason: str) -> LockGrant:
        """The grant, or LockHeld (with holder, since and reason) when someone else holds it."""
        ...

    def unlock(self, name: str, holder: str, force: bool) -> Unlocked: ...
    def locks(self) -> list[LockInfo]: ...


class HookApi(Protocol):
    def add(
        self,
        name: str,
        source: str,
        path: str,
        event_types: list[str],
        stack: str | None,
        timeout_s: float,
        replace: bool,
    ) -> HookDef: ...
    def list(self) -> list[HookDef]: ...
    def show(self, name: str, recent: int = 5) -> HookShow: ...
    def delete(self, name: str) -> None: ...
    def set_enabled(self, name: str, enabled: bool) -> None: ...
    def test(self, name: str, data: dict[str, Any], kind: str | None) -> ExecutionRow: ...
    def executions(
        self, name: str | None, only_failed: bool, limit: int
    ) -> builtins.list[dict[str, Any]]: ...


class ScheduleApi(Protocol):
    def add(
        self,
        name: str,
        cron: str,
        file: str,
        workflow: str,
        values_file: str | None,
        tz: str,
        overlap: str,
        catch_up: str,
        replace: bool,
    ) -> ScheduleDef: ...
    def list(self) -> list[ScheduleDef]: ...
    def delete(self, name: str) -> None: ...
    def set_enabled(self, name: str, enabled: bool) -> None: ...
    def fire(self, name: str) -> Fired: ...


class SecretApi(Protocol):
    def set(self, stack: str, name: str, value: str) -> bool:
        """True when created, False when replaced."""
        ...

    def get(self, stack: str, name: str) -> str: ...
    def list(self, stack: str | None) -> list[SecretInfo]: ...
    def delete(self, stack: str, name: str) -> None: ...


class TokenApi(Protocol):
    def create(self, name: str, role: str, expires_s: float | None) -> str: ...
    def list(self) -> list[TokenInfo]: ...
    def revoke(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...


class EventApi(Protocol):
    def list(
        self, type_prefix: str | None, since: float | None, stack: str | None, limit: int
    ) -> list[dict[str, Any]]: ...
    def get(self, event_id: int) -> dict[str, Any]:
        """The event, or NotFound."""
        ...

    def clear(self, before: float | None) -> int: ...
    def watch(self, type_prefix: str | None, stack: str | None) -> Iterator[dict[str, Any]]: ...


class RunApi(Protocol):
    def list_runs(self, workflow: str | None, status: str | None, limit: int) -> list[dict[str, Any]]: ...
    def get_run(self, run_id: str, with_tasks: bool = True) -> dict[str, Any] | None: ...
    def get_logs(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]: ...
    def retry(self, run_id: str, failed_only: bool) -> Retried:
        """A new run of a finished run's workflow: all its tasks, or (`failed_only`) only those
        that failed or were skipped, the others' outputs reused (sloth_engine.retry)."""
        ...

    def resolve(self, ref: str) -> str:
        """The run id `ref` names: `last`, the id, or a unique prefix (NotFound / UsageError)."""
        ...


class AgentApi(Protocol):
    def list(self) -> list[dict[str, Any]]: ...
    def get(self, name: str) -> dict[str, Any]:
        """The agent, or NotFound."""
        ...

    def stop(self, name: str, reason: str) -> None: ...
    def exec(self, name: str, command: str, timeout: float) -> Iterator[Any]:
        """ExecLine items, then one ExecExit (sloth_daemon.client)."""
        ...

    def watch(self, name: str) -> Iterator[dict[str, Any]]: ...


class LogTail(Protocol):
    def read(self, newest: int | None = None) -> list[dict[str, Any]]:
        """Rows added since the last read, oldest first (`newest`: the last N to start with)."""
        ...


class AdminApi(Protocol):
    def health(self, min_free_mb: int, integrity: bool) -> list[Check]:
        """The store's and its disks' checks, then the master's and its agents' (if any)."""
        ...

    def tail(self, run_id: str | None, only: str | None) -> LogTail: ...


class Gateway(Protocol):
    remote: bool
    """Through a master (True) or on the local store."""
    where: str

    # The areas are read-only to callers (a property is covariant: LocalAdmin is an AdminApi).
    @property
    def state(self) -> StateApi: ...

    @property
    def hooks(self) -> HookApi: ...

    @property
    def schedules(self) -> ScheduleApi: ...

    @property
    def secrets(self) -> SecretApi: ...

    @property
    def tokens(self) -> TokenApi: ...

    @property
    def events(self) -> EventApi: ...

    @property
    def runs(self) -> RunApi: ...

    @property
    def agents(self) -> AgentApi: ...

    @property
    def admin(self) -> AdminApi: ...

    @property
    def stacks(self) -> Any:
        """The engine's stack API (sloth_engine.stacks.Stacks' parts: catalog, resources, locks,
        snapshots, drift, deps) plus `validate(name)` and `remote`: gateway/stacks_remote.py."""

    def close(self) -> None: ...
