"""The gateway's reading areas on a store: events, runs, agents, the installation's health and
logs (sloth_daemon.gateway.local gathers them with the rest)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import NotFound, UsageError
from sloth_engine.retry import check_source, plan_retry
from sloth_engine.run import RunRequest, load

from .api import Check, LogTail
from .values import Retried

if TYPE_CHECKING:
    from sloth_engine.store import Store

FOLLOW_EVERY = 0.25
"""Seconds between two reads of the events table by a local `events watch`."""


class LocalEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(
        self, type_prefix: str | None, since: float | None, stack: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.store.events.list(type_prefix, since, stack, limit)]

    def get(self, event_id: int) -> dict[str, Any]:
        event = self.store.events.get(event_id)
        if event is None:
            raise NotFound(f"no event {event_id}")
        return event.to_dict()

    def clear(self, before: float | None) -> int:
        return int(self.store.events.delete_before(before))

    def watch(self, type_prefix: str | None, stack: str | None) -> Iterator[dict[str, Any]]:
        events = self.store.events
        after = events.last_id()
        while True:
            batch = events.after(after)
            for event in batch:
                after = event.id
                if (not type_prefix or event.type.startswith(type_prefix)) and (
                    not stack or event.stack == stack
                ):
                    yield event.to_dict()
            if not batch:
                time.sleep(FOLLOW_EVERY)


class LocalRuns:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list_runs(self, workflow: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        return list(self.store.runs.list_runs(workflow=workflow, status=status, limit=limit))

    def get_run(self, run_id: str, with_tasks: bool = True) -> dict[str, Any] | None:
        return self.store.runs.get_run(run_id, with_tasks=with_tasks)

    def get_logs(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]:
        return list(self.store.runs.get_logs(run_id, task))

    def retry(self, run_id: str, failed_only: bool) -> Retried:
        """The run that retries `run_id` here, from its recorded file, workflow and params
        (sloth_engine.retry): not started, the caller runs it. Refused when the file changed
        since (failed-only: the kept outputs came from the old file)."""
        run = self.store.runs.get_run(run_id)
        if run is None:
            raise NotFound(f"no run '{run_id}'")
        path = run.get("file") or ""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise UsageError(f"run {run_id}: cannot read its workflow file '{path}': {why}") from None
        warning = check_source(run, text, path) if failed_only else ""
        request = RunRequest(path=path, params=dict(run.get("params") or {}), stack=run.get("stack"))
        request.store = self.store
        loaded = load(request)
        workflow = loaded.spec.get(run["workflow"])
        if workflow is None:
            raise UsageError(f"{path} no longer defines workflow '{run['workflow']}' (run {run_id})")
        resume = plan_retry(run, workflow, failed_only)
        return Retried(local=(request, loaded, workflow, resume), warning=warning)

    def resolve(self, ref: str) -> str:
        # lazy: the console imports this package (store code only when a command runs)
        from sloth_engine.store.run_refs import resolve_run_id

        return resolve_run_id(self.store, ref)

    def abandon_gone(self, gone: Any) -> list[str]:
        """Runs whose owning process is gone end `abandoned` (a master does this itself)."""
        from sloth_engine.run_transition import abandon_gone  # lazy: only `runs` commands need it

        return abandon_gone(self.store, gone)


class LocalAgents:
    """The agents table of the store (what a master last recorded); steering needs a master."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[dict[str, Any]]:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.store.agents import AgentRows

        return [
            {**row.to_dict(), "running_tasks": (row.metrics or {}).get("running_tasks", 0)}
            for row in AgentRows(self.store).load()
        ]

    def get(self, name: str) -> dict[str, Any]:
        found = [r for r in self.list() if r["name"] == name]
        if not found:
            raise NotFound(f"no agent named '{name}'")
        return found[0]

    def stop(self, name: str, reason: str) -> None:
        raise _needs_master()

    def exec(self, name: str, command: str, timeout: float) -> Iterator[Any]:
        raise _needs_master()

    def watch(self, name: str) -> Iterator[dict[str, Any]]:
        raise _needs_master()


def _needs_master() -> UsageError:
    return UsageError("this command needs a master: --master HOST:PORT (or $SLOTH_MASTER)")


class LocalAdmin:
    def __init__(self, store: Store, with_master_row: bool = True) -> None:
        self.store = store
        self.with_master_row = with_master_row

    def health(self, min_free_mb: int, integrity: bool) -> list[Check]:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.cli import sysadmin_cmd as sysadmin

        store_checks, run_checks = self.checks(min_free_mb, integrity)
        master = sysadmin._master(None) if self.with_master_row else []
        return store_checks + master + run_checks

    def checks(self, min_free_mb: int, integrity: bool) -> tuple[list[Check], list[Check]]:
        """The store's and its disks' checks, and the runs' (the master's rows go between)."""
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_daemon.cli import sysadmin_cmd as sysadmin

        store = self.store
        checks: list[Check] = [("store", "ok", f"{store.url} (schema v{store.schema_version()})")]
        checks.append(sysadmin._writable(store))
        found_runs = sysadmin._runs(store)
        if integrity:
            checks.append(sysadmin._integrity(store))
        checks.extend(sysadmin._disks(store, min_free_mb))
        return checks, found_runs

    def tail(self, run_id: str | None, only: str | None) -> LogTail:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.store.tail import StoreTail

        return StoreTail(self.store, run_id, only)
