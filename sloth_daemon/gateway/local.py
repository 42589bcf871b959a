"""The gateway on a store: the engine's calls, the events they leave behind.

Used by a command without a master, and by the master itself to answer the gateway's RPCs
(sloth_daemon.master.gateway_rpcs), so a call does the same work either way.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import UsageError
from sloth_engine.secrets.vault import SecretInfo
from sloth_engine.store.hooks import ExecutionRow, HookDef
from sloth_engine.store.locks import LockGrant, LockInfo
from sloth_engine.store.schedules import ScheduleDef
from sloth_engine.store.state import StateEntry
from sloth_engine.store.tokens import TokenInfo

from .api import Fired, Found, HookShow, Unlocked
from .local_views import LocalAdmin, LocalAgents, LocalEvents, LocalRuns

if TYPE_CHECKING:
    from sloth_engine.store import Store

Emit = Callable[..., Any]
"""emit(type, data, source=..., stack=...): records an event (the store's, or a master's bus)."""
KeySource = Callable[[], Any]
"""The secrets' key material (from the environment, or asked for on a terminal)."""
_MISSING = object()


class LocalState:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, namespace: str, key: str) -> Found:
        value = self.store.state.get(namespace, key, _MISSING)
        return Found(False) if value is _MISSING else Found(True, value)

    def set(self, namespace: str, key: str, value: Any, ttl: str | None, owner: str) -> None:
        if value is None:
            raise UsageError("null cannot be stored; use `state delete` to remove a key")
        self.store.state.set(namespace, key, value, ttl=ttl or None, owner=owner)

    def delete(self, namespace: str, key: str) -> bool:
        return bool(self.store.state.delete(namespace, key))

    def entries(self, namespace: str, prefix: str = "") -> list[StateEntry]:
        return list(self.store.state.entries(namespace, prefix))

    def lock(self, name: str, holder: str, ttl: str, wait: str, reason: str) -> LockGrant:
        return self.store.state.lock(name, holder, ttl, wait=wait or "0", reason=reason)

    def unlock(self, name: str, holder: str, force: bool) -> Unlocked:
        info = self.store.state.lock_info(name)
        return Unlocked(bool(self.store.state.unlock(name, holder, force=force)), info)

    def locks(self) -> list[LockInfo]:
        return list(self.store.state.locks())


class LocalHooks:
    def __init__(self, store: Store, emit: Emit, source: str) -> None:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.store.hooks import HookStore

        self.store = store
        self.table = HookStore(store)
        self.emit = emit
        self.source = source

    def add(
        self,
        name: str,
        source: str,
        path: str,
        event_types: list[str],
        stack: str | None,
        timeout_s: float,
        replace: bool,
    ) -> HookDef:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.events.hook_runner import load_hook

        loaded = load_hook(name, source, path)  # DslError with file and line if it is no hook
        types = list(event_types) or list(loaded.event_types)
        hook = self.table.add(
            name, source, types, stack=stack, path=path, timeout_s=timeout_s, replace=replace
        )
        self.emit(
            "hook.added", {"hook": hook.name, "event_types": list(hook.event_types)}, source=self.source
        )
        return hook

    def list(self) -> list[HookDef]:
        return list(self.table.list())

    def show(self, name: str, recent: int = 5) -> HookShow:
        hook = self.table.get(name)
        return HookShow(hook, self.table.executions(hook.name, limit=recent))

    def delete(self, name: str) -> None:
        self.table.delete(name)
        self.emit("hook.deleted", {"hook": name}, source=self.source)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.table.set_enabled(name, enabled)

    def test(self, name: str, data: dict[str, Any], kind: str | None) -> ExecutionRow:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.events.hook_runner import HookRunner

        hook = self.table.get(name)
        if not isinstance(data, dict):
            raise UsageError("--data must be a JSON object")
        kind = kind or next((t for t in hook.event_types if "*" not in t), "custom")
        events = self.store.events

        def emitter(h: Any) -> Any:
            return lambda k, d: events.append(k, d, source=f"hook:{h.name}", stack=h.stack)

        event: dict[str, Any] = {"type": kind, "data": data, "source": "hook test", "stack": hook.stack}
        event["id"] = events.append(kind, data, source="hook test", stack=hook.stack)
        row = HookRunner(self.store, emitter).run(hook, event)
        self.table.record([row])
        return row

    def executions(self, name: str | None, only_failed: bool, limit: int) -> builtins.list[dict[str, Any]]:
        if name:
            self.table.get(name)  # an unknown name is an error, not an empty log
        return self.table.executions(name, only_failed, limit)


class LocalSchedules:
    def __init__(self, store: Store, emit: Emit, source: str, db: str | None = None) -> None:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.store.schedules import ScheduleStore

        self.store = store
        self.table = ScheduleStore(store)
        self.emit = emit
        self.source = source
        self.db = db

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
    ) -> ScheduleDef:
        from pathlib import Path

        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.cli.workflow_cmd import select

        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.dsl import load_file

        path = Path(file).resolve()
        select(load_file(path), workflow or None)  # the file must load and have the workflow
        values = str(Path(values_file).resolve()) if values_file else None
        if values and not Path(values).is_file():
            raise UsageError(f"--values: no file {values_file}")
        schedule = self.table.add(
            name, cron, str(path), workflow=workflow, values_file=values, tz=tz,
            overlap=overlap, catch_up=catch_up, replace=replace,
        )  # fmt: skip
        self.emit("schedule.added", {"schedule": schedule.name, "cron": schedule.cron}, source=self.source)
        return schedule

    def list(self) -> list[ScheduleDef]:
        return list(self.table.list())

    def delete(self, name: str) -> None:
        self.table.delete(name)
        self.emit("schedule.deleted", {"schedule": name}, source=self.source)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.table.set_enabled(name, enabled)

    def fire(self, name: str) -> Fired:
        """Run the schedule's workflow here and now, as `run FILE` would (its exit code)."""
        import argparse

        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.cli.run_cmd import cmd_run

        schedule = self.table.get(name)
        self.table.fired(schedule.name, time.time(), [])
        self.emit("schedule.triggered", {"schedule": schedule.name, "manual": True}, source=self.source)
        run_args = argparse.Namespace(
            target=schedule.file, file=None, workflow=schedule.workflow or None,
            values=schedule.values_file, param=[], output="text", junit=None, plan=False,
            max_parallel=None, stack=None, show_output=False, master=None, detach=False,
            delegate_to=None, db=self.db,
        )  # fmt: skip
        return Fired([], cmd_run(run_args))


class LocalSecrets:
    def __init__(self, store: Store, emit: Emit, source: str, key: KeySource) -> None:
        self.store = store
        self.emit = emit
        self.source = source
        self.key = key

    def _vault(self, with_key: bool = True) -> Any:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.secrets.vault import SecretVault

        return SecretVault(self.store, self.key() if with_key else None)

    def set(self, stack: str, name: str, value: str) -> bool:
        created = bool(self._vault().set(stack, name, value))
        kind = "secret.created" if created else "secret.updated"
        self.emit(kind, {"name": name}, source=self.source, stack=stack)
        return created

    def get(self, stack: str, name: str) -> str:
        return str(self._vault().get(stack, name))

    def list(self, stack: str | None) -> list[SecretInfo]:
        return list(self._vault(with_key=False).list(stack))

    def delete(self, stack: str, name: str) -> None:
        self._vault(with_key=False).delete(stack, name)
        self.emit("secret.deleted", {"name": name}, source=self.source, stack=stack)


class LocalTokens:
    def __init__(self, store: Store) -> None:
        self.table = store.tokens()

    def create(self, name: str, role: str, expires_s: float | None) -> str:
        if expires_s is not None and expires_s <= 0:
            raise UsageError("--expires must be positive")
        return str(self.table.create(name, role, expires_s))

    def list(self) -> list[TokenInfo]:
        return list(self.table.list())

    def revoke(self, name: str) -> None:
        self.table.revoke(name)

    def delete(self, name: str) -> None:
        self.table.delete(name)


class LocalGateway:
    """Every area on one open store; `close()` closes it (when it owns it)."""

    remote = False

    def __init__(
        self,
        store: Store,
        emit: Emit | None = None,
        source: str = "cli",
        key: KeySource | None = None,
        owns_store: bool = True,
        db: str | None = None,
    ) -> None:
        self.store = store
        self.where = str(getattr(store, "url", "the local store"))
        self._owns = owns_store
        emit = emit or store.events.append
        self.state = LocalState(store)
        self.hooks = LocalHooks(store, emit, source)
        self.schedules = LocalSchedules(store, emit, source, db)
        self.secrets = LocalSecrets(store, emit, source, key or _environment_key)
        self.tokens = LocalTokens(store)
        self.events = LocalEvents(store)
        self.runs = LocalRuns(store)
        self.agents = LocalAgents(store)
        self.admin = LocalAdmin(store, with_master_row=owns_store)

    @property
    def stacks(self) -> Any:
        """The engine's Stacks on this store (sloth_daemon.gateway.stacks_remote.LocalStacks)."""
        # lazy: loaded by the commands that need it, not by every command line
        from .stacks_remote import LocalStacks

        found = self.__dict__.get("_stacks")
        if found is None:
            found = self.__dict__["_stacks"] = LocalStacks(self.store)
        return found

    def close(self) -> None:
        if self._owns:
            self.store.close()


def _environment_key() -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.secrets.keys import key_material

    return key_material(prompt=None)
