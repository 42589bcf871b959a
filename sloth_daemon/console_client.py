"""The client calls the console (sloth-tui) makes beyond runs and agents: plain values out.

A mixin of MasterClient (it uses the client's `_call` and `_stub`): run graphs and re-runs,
watched sources, agents' tasks, state and locks, schedules, hooks, secret names, stacks.
"""

from __future__ import annotations

from typing import Any

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.wire import from_json


class ConsoleCalls:
    _stub: Any
    _call: Any

    # ---- runs, workflows, agents ----------------------------------------------------------

    def run_graph(self, run_id: str) -> list[dict[str, Any]]:
        """The run's tasks with their dependencies, in definition order ([] when unknown)."""
        graph = self._call(self._stub.GetRunGraph, mpb.GetRunRequest(run_id=run_id))
        return [
            {
                "name": t.name,
                "depends_on": list(t.depends_on),
                "placement": t.placement,
                "description": t.description,
            }
            for t in graph.tasks
        ]

    def retry_run(self, run_id: str, failed_only: bool = False) -> list[tuple[str, str, list[str]]]:
        """Run a finished run's workflow again (all of it, or only its failed and skipped tasks,
        reusing the others' outputs); [(run_id, workflow, tasks)] of the new run."""
        request = mpb.RetryRunRequest(run_id=run_id, failed_only=failed_only)
        answer = self._call(self._stub.RetryRun, request, timeout=60.0)
        return [(r.run_id, r.workflow, list(r.tasks)) for r in answer.runs]

    def workflow_source(self, file: str) -> str:
        """The text of a file of the master's watched folder."""
        request = mpb.GetWorkflowSourceRequest(file=file)
        return self._call(self._stub.GetWorkflowSource, request).source

    def agent_tasks(self, name: str) -> list[tuple[str, str]]:
        """(run_id, task) of the tasks assigned to an agent and not finished."""
        answer = self._call(self._stub.ListAgentTasks, mpb.GetAgentRequest(name=name))
        return [(t.run_id, t.task) for t in answer.tasks]

    # ---- state and locks ------------------------------------------------------------------

    def list_locks(self) -> list[dict[str, Any]]:
        answer = self._call(self._stub.ListLocks, mpb.ListLocksRequest())
        return [
            {
                "kind": lk.kind,
                "name": lk.name,
                "holder": lk.holder,
                "token": lk.token,
                "acquired_at": lk.acquired_at,
                "expires_at": lk.expires_at or None,
                "reason": lk.reason,
            }
            for lk in answer.locks
        ]

    def release_lock(self, kind: str, name: str, token: int = 0, force: bool = False, by: str = "") -> None:
        """Release the grant `token` of a lock, or (force) whoever holds it."""
        request = mpb.ReleaseLockRequest(kind=kind, name=name, token=token, force=force, by=by)
        self._call(self._stub.ReleaseLock, request)

    def list_state(self, namespace: str = "", prefix: str = "", limit: int = 500) -> dict[str, Any]:
        """{"namespaces": [...], "items": [{namespace, key, value, ...}]}."""
        request = mpb.ListStateRequest(namespace=namespace, prefix=prefix, limit=limit)
        answer = self._call(self._stub.ListState, request)
        items = [
            {
                "namespace": i.namespace,
                "key": i.key,
                "value": from_json(i.value_json, "state value", default=None),
                "value_type": i.value_type,
                "version": i.version,
                "expires_at": i.expires_at or None,
                "owner": i.owner,
                "updated_at": i.updated_at or None,
            }
            for i in answer.items
        ]
        return {"namespaces": list(answer.namespaces), "items": items}

    # ---- schedules, hooks, secrets --------------------------------------------------------

    def list_schedules(self) -> list[dict[str, Any]]:
        answer = self._call(self._stub.ListSchedules, mpb.ListSchedulesRequest())
        return [_schedule(s) for s in answer.schedules]

    def set_schedule_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        request = mpb.SetScheduleEnabledRequest(name=name, enabled=enabled)
        return _schedule(self._call(self._stub.SetScheduleEnabled, request))

    def list_hooks(self) -> list[dict[str, Any]]:
        answer = self._call(self._stub.ListHooks, mpb.ListHooksRequest())
        return [
            {
                "name": h.name,
                "event_types": list(h.event_types),
                "stack": h.stack or None,
                "path": h.path,
                "enabled": h.enabled,
                "timeout_s": h.timeout_s,
                "last_outcome": h.last_outcome or None,
                "last_run_at": h.last_run_at or None,
                "created_at": h.created_at,
                "updated_at": h.updated_at,
            }
            for h in answer.hooks
        ]

    def list_secret_names(self, stack: str = "") -> list[dict[str, Any]]:
        """Names only: the master never sends a secret's value to the console."""
        answer = self._call(self._stub.ListSecretNames, mpb.ListSecretNamesRequest(stack=stack))
        return [
            {"stack": s.stack, "name": s.name, "created_at": s.created_at, "updated_at": s.updated_at}
            for s in answer.secrets
        ]

    # ---- stacks ---------------------------------------------------------------------------

    def list_stacks(self) -> list[dict[str, Any]]:
        return self._stack_call(self._stub.ListStacks)["stacks"]

    def get_stack(self, name: str) -> dict[str, Any]:
        """{"stack", "resources", "snapshots", "lock", "drift", "deps", "graph"}."""
        return self._stack_call(self._stub.GetStack, name)

    def get_snapshot(self, name: str, version: str) -> dict[str, Any]:
        """{"info", "resources", "outputs"} of snapshot `version` ("v2", or "current")."""
        return self._stack_call(self._stub.GetSnapshot, name, version=version)

    def create_snapshot(self, name: str, description: str = "", by: str = "") -> dict[str, Any]:
        return self._stack_call(self._stub.CreateSnapshot, name, description=description, by=by)

    def restore_snapshot(self, name: str, version: str, by: str = "") -> dict[str, Any]:
        return self._stack_call(self._stub.RestoreSnapshot, name, version=version, by=by)

    def detect_drift(self, name: str) -> dict[str, Any]:
        return self._stack_call(self._stub.DetectDrift, name, timeout=120.0)

    def fix_drift(self, name: str) -> dict[str, Any]:
        """{"groups", "unfixable", "run_ids"}: the fix runs started on the master."""
        return self._stack_call(self._stub.FixDrift, name, timeout=120.0)

    def _stack_call(self, method: Any, stack: str = "", timeout: float | None = None, **fields: str) -> Any:
        request = mpb.StackRequest(stack=stack, **fields)
        answer = self._call(method, request, timeout=timeout)
        return from_json(answer.doc_json, "stack document")


def _schedule(s: mpb.ScheduleInfo) -> dict[str, Any]:
    return {
        "name": s.name,
        "cron": s.cron,
        "file": s.file,
        "workflow": s.workflow or None,
        "tz": s.tz,
        "overlap": s.overlap,
        "catch_up": s.catch_up,
        "enabled": s.enabled,
        "next_fire_at": s.next_fire_at or None,
        "last_fire_at": s.last_fire_at or None,
        "last_run_id": s.last_run_id or None,
        "values_file": s.values_file or None,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }
