"""A fake master client for the console's tests: fixed data at a fixed time, streams the test
feeds, and a record of every steering call. Same methods as sloth_daemon.client.MasterClient."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from sloth_daemon.client import ExecExit, ExecLine, PlannedRun
from sloth_daemon.errors import MasterUnavailable
from sloth_engine.errors import NotFound
from sloth_engine.executor.results import RunEvent, RunResult
from sloth_engine.spec import RunStatus

NOW = 1_800_000_000.0
"""2027-01-15 08:00:00 UTC: the fake clock."""


def _agent(
    name: str, status: str, cpu: float, mem: float, ts: float, tags: dict[str, str], running: int = 0
) -> dict[str, Any]:
    return {
        "name": name, "address": f"10.0.0.{len(name)}:7000", "tags": tags, "status": status, "version": "0.1.0",
        "max_tasks": 4, "running_tasks": running, "registered_at": NOW - 3600, "connected_at": NOW - 3600,
        "last_heartbeat": ts, "heartbeat_interval_s": 5.0, "facts": {}, "modules": ["exec", "file_ops", "pkg"],
        "metrics": {"cpu_percent": cpu, "mem_percent": mem, "mem_total": 8 << 30, "mem_used": int(mem / 100 * (8 << 30)),
                    "disk_percent": 41.0 + cpu / 10, "disk_total": 100 << 30, "disk_used": 41 << 30,
                    "load": [0.5, 0.4, 0.3], "uptime_s": 86400.0, "running_tasks": running, "ts": ts},
    }  # fmt: skip


def deploy_graph() -> list[dict[str, Any]]:
    nodes = [
        ("checkout", []), ("lint", ["checkout"]), ("unit", ["checkout"]), ("build", ["checkout"]),
        ("image", ["build"]), ("migrate", ["build"]), ("e2e", ["image", "unit"]), ("push", ["image", "lint"]),
        ("deploy-eu", ["push", "migrate", "e2e"]), ("deploy-us", ["push", "migrate", "e2e"]),
        ("smoke", ["deploy-eu", "deploy-us"]), ("notify", ["smoke"]),
    ]  # fmt: skip
    return [{"name": n, "depends_on": d, "placement": "local", "description": ""} for n, d in nodes]


def _attempt(run_id: str, task: str, status: str, attempt: int = 1, started: float | None = None,
             took: float | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "run_id": run_id, "task": task, "attempt": attempt, "status": status, "started_at": started,
        "finished_at": (started + took) if started is not None and took is not None else None,
        "duration_s": took, "agent": extra.get("agent", "alpha"), "message": extra.get("message"),
        "error": extra.get("error"), "outputs": extra.get("outputs"), "exit_code": None,
    }  # fmt: skip


def deploy_run() -> dict[str, Any]:
    r, t0 = "r-deploy", NOW - 42
    tasks = [
        _attempt(r, "checkout", "success", 1, t0, 1.2, outputs={"rev": "4f2a9c1"}, message="checked out"),
        _attempt(r, "lint", "success", 1, t0 + 2, 3.4),
        _attempt(r, "unit", "success", 1, t0 + 2, 12.5),
        _attempt(r, "build", "success", 1, t0 + 2, 20.1, outputs={"artifact": "app-4f2a9c1.tar.gz"}),
        _attempt(r, "image", "running", 1, t0 + 23, None),
        _attempt(r, "migrate", "failed", 1, t0 + 23, 2.0, error="psql: connection refused"),
        _attempt(r, "migrate", "retrying", 2, t0 + 23, None, error="psql: connection refused"),
    ]
    return {"run_id": r, "workflow": "deploy", "file": "deploy.sloth", "stack": "web", "status": "running",
            "started_at": t0, "finished_at": None, "duration_s": None, "error": None, "params": {}, "tasks": tasks}  # fmt: skip


def snapshot(version: int) -> dict[str, Any]:
    resources = [
        {"type": "file", "name": "nginx.conf", "state": "ok", "properties": {"path": "/etc/nginx/nginx.conf", "mode": "0644", "workers": 4 if version == 1 else 8}},
        {"type": "pkg", "name": "nginx", "state": "ok", "properties": {"version": "1.24" if version == 1 else "1.26"}},
        {"type": "service", "name": "nginx", "state": "ok", "properties": {"enabled": True}},
    ]  # fmt: skip
    if version == 2:
        resources.append(
            {"type": "file", "name": "tls.pem", "state": "ok", "properties": {"path": "/etc/tls.pem"}}
        )
    label = f"v{version}" if version else "current"
    info = {"stack": "web", "version": version, "label": label, "description": f"release {version}", "creator": "ci",
            "created_at": NOW - 86400 * (3 - version), "run_id": None, "resource_count": len(resources)}  # fmt: skip
    return {
        "info": info,
        "resources": resources,
        "outputs": {"url": "https://web.example", "replicas": version + 1},
    }


class FakeClient:
    def __init__(self) -> None:
        self.address = "fake:50053"
        self.calls: list[tuple[Any, ...]] = []
        self.down = False
        self.closed = threading.Event()
        self.event_feed: queue.Queue[dict[str, Any]] = queue.Queue()
        self.agent_feed: queue.Queue[dict[str, Any]] = queue.Queue()
        self.run_feeds: dict[str, queue.Queue[Any]] = {}
        self.runs = [
            deploy_run(),
            {"run_id": "r-nightly", "workflow": "nightly", "file": "nightly.sloth", "stack": None, "status": "success",
             "started_at": NOW - 7200, "finished_at": NOW - 7100, "duration_s": 100.0, "error": None, "params": {}, "tasks": []},
            {"run_id": "r-backup", "workflow": "backup", "file": "backup.sloth", "stack": "db", "status": "failed",
             "started_at": NOW - 3600, "finished_at": NOW - 3590, "duration_s": 10.0, "error": "task dump failed", "params": {},
             "tasks": [_attempt("r-backup", "dump", "failed", 1, NOW - 3600, 10.0, error="pg_dump: permission denied")]},
        ]  # fmt: skip
        self.history = [_agent("alpha", "connected", cpu, 30 + cpu / 3, NOW - 60 + i * 5, {"role": "build"}, 1)
                        for i, cpu in enumerate((10, 25, 40, 80, 95, 60, 30, 20, 50, 70))]  # fmt: skip
        self.agents = [
            self.history[0],
            _agent("beta", "connected", 5, 20, NOW - 2, {"role": "db", "zone": "eu"}),
            _agent("gamma", "lost", 0, 0, NOW - 600, {"zone": "us"}),
        ]
        self.events = [
            {"id": i + 1, "ts": NOW - 100 + i * 10, "type": t, "severity": s, "source": src, "stack": st, "run_id": rid, "data": d}
            for i, (t, s, src, st, rid, d) in enumerate([
                ("agent.registered", "info", "master", None, None, {"agent": "alpha"}),
                ("workflow.started", "info", "engine", "web", "r-deploy", {"status": "running"}),
                ("lock.acquired", "info", "stacks", "web", "r-deploy", {"holder": "r-deploy"}),
                ("task.failed", "error", "engine", "web", "r-deploy", {"task": "migrate", "error": "psql: connection refused"}),
                ("agent.lost", "warning", "master", None, None, {"agent": "gamma"}),
                ("schedule.triggered", "info", "scheduler", None, "r-nightly", {"schedule": "nightly"}),
            ])
        ]  # fmt: skip
        self.locks = [
            {"kind": "state", "name": "deploy-prod", "holder": "ci@build1", "token": 7, "acquired_at": NOW - 300, "expires_at": NOW + 300, "reason": "release 42"},
            {"kind": "stack", "name": "web", "holder": "r-deploy", "token": 9, "acquired_at": NOW - 42, "expires_at": None, "reason": "run r-deploy"},
        ]  # fmt: skip
        self.workflows = [
            {"file": "/srv/flows/hello_world.sloth", "workflow": "hello_world", "tasks": 2, "description": "hello", "loaded_at": NOW, "error": None, "error_line": None},
            {"file": "/srv/flows/deploy.sloth", "workflow": "deploy", "tasks": 12, "description": "ship it", "loaded_at": NOW, "error": None, "error_line": None},
        ]  # fmt: skip

    # ---- runs ---------------------------------------------------------------------------------

    def _check(self) -> None:
        if self.down:
            raise MasterUnavailable("master unavailable: connection refused")

    def list_runs(
        self, workflow: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        self._check()
        return [{k: v for k, v in r.items() if k != "tasks"} for r in self.runs][:limit]

    def get_run(self, run_id: str) -> dict[str, Any]:
        self._check()
        for run in self.runs:
            if run["run_id"] == run_id:
                return run
        raise NotFound(f"no run {run_id}")

    def run_graph(self, run_id: str) -> list[dict[str, Any]]:
        self._check()
        return deploy_graph() if run_id == "r-deploy" else []

    def run_logs(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(("run_logs", run_id, task))
        lines = [f"{task}: step {i}" for i in range(1, 4)]
        return [
            {"task": task, "attempt": 1, "stream": "stdout", "seq": i, "ts": NOW, "line": line}
            for i, line in enumerate(lines)
        ]

    def follow_run(self, run_id: str, **kwargs: Any) -> Iterator[RunEvent | RunResult]:
        """A run in flight replays its events (its log lines too); a finished one sends its report."""
        self._check()
        run = self.get_run(run_id)
        if run["status"] != "running":
            yield RunResult(run_id, run["workflow"], RunStatus(run["status"]), run["duration_s"] or 0.0, [])
            return
        yield RunEvent("workflow.started", run_id, run["workflow"], run["started_at"], None, 0, "running", {})
        for i in range(1, 4):
            yield RunEvent(
                "task.log",
                run_id,
                run["workflow"],
                NOW,
                "checkout",
                1,
                "stdout",
                {"line": f"checkout: step {i}"},
            )
        feed = self.run_feeds.setdefault(run_id, queue.Queue())
        yield from self._drain(feed, stop=lambda item: isinstance(item, RunResult))

    def cancel_run(self, run_id: str, reason: str = "") -> None:
        self.calls.append(("cancel_run", run_id))

    def retry_run(self, run_id: str, failed_only: bool = False) -> list[tuple[str, str, list[str]]]:
        self.calls.append(("retry_run", run_id, failed_only))
        return [("r-nightly", "nightly", ["a"])]

    def submit_run(
        self, path: str, source: str, workflow: str = "", values: Any = None, params: Any = None, **kw: Any
    ) -> list[PlannedRun]:
        self.calls.append(("submit_run", path, source, workflow, values, params))
        return [PlannedRun("r-nightly", workflow or "nightly", ["a"])]

    def workflow_source(self, file: str) -> str:
        return f"-- source of {file}"

    def list_workflows(self) -> list[dict[str, Any]]:
        return self.workflows

    # ---- agents, events ---------------------------------------------------------------------

    def list_agents(self) -> list[dict[str, Any]]:
        self._check()
        return self.agents

    def agent_tasks(self, name: str) -> list[tuple[str, str]]:
        return [("r-deploy", "image")] if name == "alpha" else []

    def watch_agents(self, name: str = "") -> Iterator[dict[str, Any]]:
        self._check()
        yield from self.history
        yield from self.agents[1:]
        yield from self._drain(self.agent_feed)

    def list_events(
        self,
        type_prefix: str | None = None,
        since: float | None = None,
        stack: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The newest `limit` in time order, oldest first (as the master's store answers)."""
        self._check()
        return self.events[-limit:]

    def watch_events(
        self, type_prefix: str | None = None, stack: str | None = None
    ) -> Iterator[dict[str, Any]]:
        self._check()
        yield from self._drain(self.event_feed)

    def fire_schedule(self, name: str) -> list[str]:
        self.calls.append(("fire_schedule", name))
        return ["r-nightly"]

    # ---- state, locks, schedules, hooks, secrets ------------------------------------------------

    def list_locks(self) -> list[dict[str, Any]]:
        self._check()
        return list(self.locks)

    def release_lock(self, kind: str, name: str, token: int = 0, force: bool = False, by: str = "") -> None:
        self.calls.append(("release_lock", kind, name, token, force))
        self.locks = [lk for lk in self.locks if lk["name"] != name]

    def list_state(self, namespace: str = "", prefix: str = "", limit: int = 500) -> dict[str, Any]:
        items = [
            {"namespace": "deploy", "key": "last_version", "value": "4f2a9c1", "value_type": "string", "version": 12, "expires_at": None, "owner": "", "updated_at": NOW - 60},
            {"namespace": "deploy", "key": "replicas", "value": 3, "value_type": "number", "version": 4, "expires_at": None, "owner": "", "updated_at": NOW - 600},
            {"namespace": "cache", "key": "token", "value": {"ok": True}, "value_type": "table", "version": 1, "expires_at": NOW + 3600, "owner": "ci", "updated_at": NOW - 5},
        ]  # fmt: skip
        return {"namespaces": ["cache", "deploy"], "items": items}

    def list_schedules(self) -> list[dict[str, Any]]:
        return [
            {"name": "nightly", "cron": "0 3 * * *", "file": "/srv/flows/nightly.sloth", "workflow": "nightly", "tz": "UTC", "overlap": "skip",
             "catch_up": "once", "enabled": True, "next_fire_at": NOW + 68400, "last_fire_at": NOW - 18000, "last_run_id": "r-nightly"},
            {"name": "backup", "cron": "*/30 * * * *", "file": "/srv/flows/backup.sloth", "workflow": None, "tz": "UTC", "overlap": "queue",
             "catch_up": "none", "enabled": False, "next_fire_at": NOW + 600, "last_fire_at": NOW - 3600, "last_run_id": "r-backup"},
        ]  # fmt: skip

    def set_schedule_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        self.calls.append(("set_schedule_enabled", name, enabled))
        return {**self.list_schedules()[0], "enabled": enabled}

    def list_hooks(self) -> list[dict[str, Any]]:
        return [
            {"name": "page-oncall", "event_types": ["task.failed", "workflow.failed"], "stack": None, "path": "hooks/page.lua", "enabled": True, "timeout_s": 30.0, "last_outcome": "success", "last_run_at": NOW - 95},
            {"name": "audit", "event_types": ["*"], "stack": "web", "path": "hooks/audit.lua", "enabled": False, "timeout_s": 5.0, "last_outcome": "timeout", "last_run_at": NOW - 7200},
        ]  # fmt: skip

    def list_secret_names(self, stack: str = "") -> list[dict[str, Any]]:
        return [
            {"stack": "db", "name": "password", "created_at": NOW - 86400 * 30, "updated_at": NOW - 86400},
            {"stack": "web", "name": "api_key", "created_at": NOW - 86400 * 9, "updated_at": NOW - 86400 * 9},
            {"stack": "web", "name": "tls_key", "created_at": NOW - 86400 * 9, "updated_at": NOW - 3600},
        ]

    def token_rows(self) -> list[dict[str, Any]]:
        return [
            {"name": "ops-admin", "role": "admin", "created_at": NOW - 86400 * 40, "expires_at": None, "revoked_at": None},
            {"name": "ci", "role": "operator", "created_at": NOW - 86400 * 3, "expires_at": NOW + 86400 * 27, "revoked_at": None},
            {"name": "old-laptop", "role": "viewer", "created_at": NOW - 86400 * 90, "expires_at": None, "revoked_at": NOW - 86400},
        ]  # fmt: skip

    def exec_on_agent(self, name: str, command: str, timeout: float = 0.0) -> Iterator[ExecLine | ExecExit]:
        self.calls.append(("exec_on_agent", name, command))
        yield ExecLine("stdout", f" 08:00:00 up 12 days,  3:04,  0 users,  load average: 0.42 ({name})")
        yield ExecLine("stderr", "uptime: warning: /proc is slow")
        yield ExecExit(0)

    # ---- stacks ---------------------------------------------------------------------------------

    def list_stacks(self) -> list[dict[str, Any]]:
        return [
            {"name": "db", "status": "failed", "resources": 2, "last_version": 0, "last_run_at": NOW - 3600, "locked_by": None},
            {"name": "web", "status": "running", "resources": 3, "last_version": 2, "last_run_at": NOW - 42, "locked_by": "r-deploy"},
        ]  # fmt: skip

    def get_stack(self, name: str) -> dict[str, Any]:
        current = snapshot(2)
        drift = {"stack": name, "detected_at": NOW - 30, "fixed_at": None, "checked": 3, "drifted": 1, "errors": 0, "findings": [
            {"resource": "file.nginx.conf", "type": "file", "name": "nginx.conf", "kind": "configuration", "task": "configure",
             "workflow": "deploy", "file": "deploy.sloth", "error": "", "fields": [{"field": "mode", "expected": "0644", "actual": "0666"}]}]}  # fmt: skip
        return {
            "stack": {"name": name, "status": "running", "last_version": 2, "outputs": current["outputs"]},
            "resources": [{**r, "task": "configure"} for r in current["resources"][:3]],
            "snapshots": [snapshot(1)["info"], snapshot(2)["info"]],
            "lock": None,
            "drift": drift if name == "web" else None,
            "deps": {"stack": name, "depends_on": ["db"] if name == "web" else [], "indirect": [{"stack": "net", "via": "db"}] if name == "web" else [],
                     "dependents": [] if name == "web" else ["web"], "missing": ["net"] if name == "web" else []},
            "graph": {"web": ["db"], "db": ["net"], "net": []},
        }  # fmt: skip

    def get_snapshot(self, name: str, version: str) -> dict[str, Any]:
        return snapshot(int(version[1:]) if version.startswith("v") else 2) | (
            {"info": {"label": "current"}} if version == "current" else {}
        )

    def create_snapshot(self, name: str, description: str = "", by: str = "") -> dict[str, Any]:
        self.calls.append(("create_snapshot", name, description))
        return {**snapshot(2)["info"], "version": 3, "label": "v3", "description": description}

    def restore_snapshot(self, name: str, version: str, by: str = "") -> dict[str, Any]:
        self.calls.append(("restore_snapshot", name, version))
        return snapshot(int(version[1:]))["info"]

    def detect_drift(self, name: str) -> dict[str, Any]:
        self.calls.append(("detect_drift", name))
        return self.get_stack(name)["drift"] or {"stack": name, "drifted": 0, "errors": 0}

    def fix_drift(self, name: str) -> dict[str, Any]:
        self.calls.append(("fix_drift", name))
        return {"stack": name, "groups": [{"file": "deploy.sloth", "workflow": "deploy", "tasks": ["configure"], "fixes": ["file.nginx.conf"]}],
                "unfixable": [], "run_ids": ["r-nightly"]}  # fmt: skip

    # ---- streams ------------------------------------------------------------------------------

    def _drain(self, feed: queue.Queue[Any], stop: Any = None) -> Iterator[Any]:
        while not self.closed.is_set():
            if self.down:
                raise MasterUnavailable("master unavailable: stream broke")
            try:
                item = feed.get(timeout=0.02)
            except queue.Empty:
                continue
            yield item
            if stop is not None and stop(item):
                return

    def close(self) -> None:
        self.closed.set()


async def until(pilot: Any, check: Any, what: str = "the console", timeout: float = 5.0) -> None:
    """Let the app process messages until `check()` holds (workers answer through messages)."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)
    await settle(pilot)


async def settle(pilot: Any) -> None:
    """Until the calls in flight answered and the messages they caused were handled."""
    app = pilot.app
    for _ in range(200):
        await pilot.pause()
        if not any(w.is_running for w in app.workers if w.group == "calls"):
            break
        await pilot.pause(0.01)
    for _ in range(3):
        await pilot.pause()


def console(client: FakeClient | None = None) -> Any:
    """The app on a fake client at the fake time."""
    from sloth_tui.app import SlothApp

    return SlothApp(client or FakeClient(), "fake:50053", clock=lambda: NOW)
