"""The gateway through a master: each area calls the client (sloth_daemon.client) and hands
back the engine's records, as LocalGateway does on a store. Nothing here opens a store."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sloth_daemon.client import PlannedRun
from sloth_engine.errors import NotFound, SlothError, UsageError
from sloth_engine.secrets.vault import SecretInfo
from sloth_engine.store.hooks import ExecutionRow, HookDef
from sloth_engine.store.locks import LockGrant, LockInfo
from sloth_engine.store.schedules import ScheduleDef
from sloth_engine.store.state import StateEntry
from sloth_engine.store.tokens import TokenInfo

from .api import Check, Fired, Found, HookShow, LogTail, Retried, Unlocked

FOREVER = 253402300799.0
LIST_LIMIT = 5000
"""The most state keys one `state list` reads through a master (the master's bound)."""


class RemoteState:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, namespace: str, key: str) -> Found:
        return self.client.state_get(namespace, key)

    def set(self, namespace: str, key: str, value: Any, ttl: str | None, owner: str) -> None:
        if value is None:  # refused here as locally (JSON null would not travel as a value)
            raise UsageError("null cannot be stored; use `state delete` to remove a key")
        self.client.state_set(namespace, key, value, ttl, owner)

    def delete(self, namespace: str, key: str) -> bool:
        return bool(self.client.state_delete(namespace, key))

    def entries(self, namespace: str, prefix: str = "") -> list[StateEntry]:
        items = self.client.list_state(namespace, prefix, LIST_LIMIT)["items"]
        return [
            StateEntry(
                i["namespace"],
                i["key"],
                i["value"],
                i["value_type"],
                i["version"],
                i["expires_at"],
                i["owner"],
                i["updated_at"] or 0.0,
            )  # fmt: skip
            for i in items
            if i["namespace"] == namespace
        ]

    def lock(self, name: str, holder: str, ttl: str, wait: str, reason: str) -> LockGrant:
        return self.client.state_lock(name, holder, ttl, wait, reason)

    def unlock(self, name: str, holder: str, force: bool) -> Unlocked:
        return self.client.state_unlock(name, holder, force)

    def locks(self) -> list[LockInfo]:
        return [
            LockInfo(
                lk["name"],
                lk["holder"],
                lk["token"],
                lk["acquired_at"],
                lk["expires_at"] or FOREVER,
                lk["reason"],
            )  # fmt: skip
            for lk in self.client.list_locks()
            if lk["kind"] == "state"
        ]


class RemoteHooks:
    def __init__(self, client: Any) -> None:
        self.client = client

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
        return self.client.hook_add(name, source, path, event_types, stack, timeout_s, replace)

    def list(self) -> list[HookDef]:
        return [
            HookDef(
                h["name"],
                tuple(h["event_types"]),
                h["stack"],
                "",
                h["path"],
                h["enabled"],
                h["timeout_s"],
                h["created_at"],
                h["updated_at"],
            )  # fmt: skip
            for h in self.client.list_hooks()
        ]

    def show(self, name: str, recent: int = 5) -> HookShow:
        return self.client.hook_show(name)

    def delete(self, name: str) -> None:
        self.client.hook_delete(name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.client.hook_set_enabled(name, enabled)

    def test(self, name: str, data: dict[str, Any], kind: str | None) -> ExecutionRow:
        if not isinstance(data, dict):
            raise UsageError("--data must be a JSON object")
        return self.client.hook_test(name, data, kind)

    def executions(self, name: str | None, only_failed: bool, limit: int) -> builtins.list[dict[str, Any]]:
        return self.client.hook_logs(name, only_failed, limit)


class RemoteSchedules:
    def __init__(self, client: Any) -> None:
        self.client = client

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
        """Send the file's text (and the values file's): the master fires its copy. The file is
        checked here first, so a bad one fails with the same message as locally."""
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.cli.workflow_cmd import select

        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.dsl import load_file

        select(load_file(Path(file).resolve()), workflow or None)
        if values_file and not Path(values_file).is_file():
            raise UsageError(f"--values: no file {values_file}")
        source = _read(file, "workflow file")
        values = (values_file, _read(values_file, "--values")) if values_file else None
        return self.client.schedule_add(
            name, cron, file, source, workflow, values, tz, overlap, catch_up, replace
        )

    def list(self) -> list[ScheduleDef]:
        return [
            ScheduleDef(
                s["name"],
                s["cron"],
                s["file"],
                s["workflow"] or "",
                s["values_file"],
                s["tz"],
                s["overlap"],
                s["catch_up"],
                s["enabled"],
                s["next_fire_at"],
                s["last_fire_at"],
                s["last_run_id"],
                s["created_at"],
                s["updated_at"],
            )  # fmt: skip
            for s in self.client.list_schedules()
        ]

    def delete(self, name: str) -> None:
        self.client.schedule_delete(name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.client.set_schedule_enabled(name, enabled)

    def fire(self, name: str) -> Fired:
        return Fired(self.client.fire_schedule(name))


class RemoteSecrets:
    def __init__(self, client: Any) -> None:
        self.client = client

    def set(self, stack: str, name: str, value: str) -> bool:
        return self.client.secret_set(stack, name, value)

    def get(self, stack: str, name: str) -> str:
        return self.client.secret_reveal(stack, name)

    def list(self, stack: str | None) -> list[SecretInfo]:
        return [
            SecretInfo(s["stack"], s["name"], s["created_at"], s["updated_at"])
            for s in self.client.list_secret_names(stack or "")
        ]

    def delete(self, stack: str, name: str) -> None:
        self.client.secret_delete(stack, name)


class RemoteTokens:
    def __init__(self, client: Any) -> None:
        self.client = client

    def create(self, name: str, role: str, expires_s: float | None) -> str:
        if expires_s is not None and expires_s <= 0:
            raise UsageError("--expires must be positive")
        return self.client.token_create(name, role, expires_s)

    def list(self) -> list[TokenInfo]:
        return self.client.token_list()

    def revoke(self, name: str) -> None:
        self.client.token_revoke(name)

    def delete(self, name: str) -> None:
        self.client.token_delete(name)


class RemoteEvents:
    def __init__(self, client: Any) -> None:
        self.client = client

    def list(
        self, type_prefix: str | None, since: float | None, stack: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return self.client.list_events(type_prefix, since, stack, limit)

    def get(self, event_id: int) -> dict[str, Any]:
        return self.client.event_get(event_id)

    def clear(self, before: float | None) -> int:
        return self.client.events_clear(before)

    def watch(self, type_prefix: str | None, stack: str | None) -> Iterator[dict[str, Any]]:
        return self.client.watch_events(type_prefix, stack)


class RemoteRuns:
    def __init__(self, client: Any) -> None:
        self.client = client

    def list_runs(self, workflow: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        return self.client.list_runs(workflow, status, limit)

    def get_run(self, run_id: str, with_tasks: bool = True) -> dict[str, Any] | None:
        try:
            return self.client.get_run(run_id)
        except NotFound:
            return None

    def get_logs(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]:
        return self.client.run_logs(run_id, task)

    def retry(self, run_id: str, failed_only: bool) -> Retried:
        """The master starts the run that retries `run_id` (from its submission)."""
        planned = [PlannedRun(r, w, t) for r, w, t in self.client.retry_run(run_id, failed_only)]
        return Retried(planned=planned)

    def resolve(self, ref: str) -> str:
        """The master resolves `last` and prefixes in GetRun (sloth_daemon.master.run_pages)."""
        return str(self.client.get_run(ref)["run_id"])


class RemoteAgents:
    def __init__(self, client: Any) -> None:
        self.client = client

    def list(self) -> list[dict[str, Any]]:
        return self.client.list_agents()

    def get(self, name: str) -> dict[str, Any]:
        return self.client.get_agent(name)

    def stop(self, name: str, reason: str) -> None:
        self.client.stop_agent(name, reason)

    def exec(self, name: str, command: str, timeout: float) -> Iterator[Any]:
        return self.client.exec_on_agent(name, command, timeout)

    def watch(self, name: str) -> Iterator[dict[str, Any]]:
        return self.client.watch_agents(name)


class RemoteTail:
    def __init__(self, client: Any, run_id: str | None, only: str | None) -> None:
        self.client = client
        self.run_id = run_id
        self.only = only
        self.last = {"events": 0, "output": 0}

    def read(self, newest: int | None = None) -> list[dict[str, Any]]:
        rows, self.last = self.client.tail_logs(self.run_id, self.only, newest, self.last)
        return rows


class RemoteAdmin:
    def __init__(self, client: Any) -> None:
        self.client = client

    def health(self, min_free_mb: int, integrity: bool) -> list[Check]:
        """The master's store and disks (as it sees them), then the master and its agents."""
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.cli.sysadmin_cmd import _master

        try:
            checks, runs = self.client.master_health(min_free_mb, integrity)
        except SlothError as exc:
            checks, runs = [("store", "fail", f"through {self.client.address}: {exc}")], []
        return checks + _master(self.client.address, self.client) + runs

    def tail(self, run_id: str | None, only: str | None) -> LogTail:
        return RemoteTail(self.client, run_id, only)


class RemoteGateway:
    remote = True

    def __init__(self, client: Any) -> None:
        self.client = client
        self.where = f"master {client.address}"
        self.state = RemoteState(client)
        self.hooks = RemoteHooks(client)
        self.schedules = RemoteSchedules(client)
        self.secrets = RemoteSecrets(client)
        self.tokens = RemoteTokens(client)
        self.events = RemoteEvents(client)
        self.runs = RemoteRuns(client)
        self.agents = RemoteAgents(client)
        self.admin = RemoteAdmin(client)
        # lazy: loaded by the commands that need it, not by every command line
        from .stacks_remote import RemoteStacks

        self.stacks = RemoteStacks(client)

    def close(self) -> None:
        self.client.close()


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc}") from None
