"""Runs on a master: submitted by clients, executed by the engine with the dispatcher, resumed
after a restart, watched live, cancelled.

A submitted file is written under `$SLOTH_HOME/master/sources/` (the engine's Lua workers load
it from there for tasks that run on the master) and kept in `run_submissions` with its values
and parameters. Every run of the submission gets its `runs` row at once, so a master killed at
any point finds all of them among the unfinished runs and resumes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sloth_daemon.errors import Rejected
from sloth_daemon.master.dispatcher import Dispatcher
from sloth_daemon.master.metrics import RunMetrics
from sloth_daemon.master.run_feed import RunFeed
from sloth_daemon.master.run_placement import place_tasks
from sloth_engine import run_transition, unrecorded
from sloth_engine.bundle import collect
from sloth_engine.dsl import LoadedFile
from sloth_engine.errors import DslError, NotFound, RunTransitionRefused, SlothError
from sloth_engine.executor.results import RunResult, TaskResult
from sloth_engine.retry import check_source, plan_retry
from sloth_engine.run import Resume, RunRequest, WorkflowRun, load, new_run_id, source_digest
from sloth_engine.run_owner import current_owner, owner_gone
from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RunStatus, TaskStatus, WorkflowSpec
from sloth_engine.stacks.lifecycle import StackLifecycle
from sloth_engine.store import Store
from sloth_engine.store.host_processes import HostProcess
from sloth_engine.store.submissions import Submission, SubmissionRows

log = logging.getLogger(__name__)

RECORD_EVERY = 5.0
"""Seconds between two tries to record the outcomes the store refused (sloth_engine.unrecorded)."""
RESUME_LOAD_TIMEOUT = 60.0
"""Loading a run's file to resume it takes at most this: a master always finishes starting."""


@dataclass
class ActiveRun:
    run_id: str
    spec: WorkflowSpec
    run: WorkflowRun
    feed: RunFeed
    cancelled: str | None = None
    result: RunResult | None = None


@dataclass
class Plan:
    """What `submit` answers: the run ids in the order they will run, with their task names."""

    runs: list[tuple[str, str, list[str]]] = field(default_factory=list)


class RunService:
    def __init__(self, store: Store, dispatcher: Dispatcher, home: Path) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.home = home
        self.epoch = uuid.uuid4().hex[:12]
        self.active: dict[str, ActiveRun] = {}
        self.submissions = SubmissionRows(store)
        self._jobs: set[asyncio.Task[None]] = set()
        self.bus: Any = None
        """The master's EventBus: every run's events reach it (set by Automation)."""
        self.run_metrics = RunMetrics()
        """Workflow metrics and task durations of every run, for /metrics."""
        self._stacks: Any = None
        self.owner = current_owner()
        """This master process: it owns the runs it executes (runs_cmd finds them abandoned)."""
        self.no_local_tasks = False
        """`master --no-local-tasks`: a task with no placement (and no default) is refused."""
        self.host: Any = None
        """host_tasks.HostTasks: runs the tasks placed on the master, in child processes."""
        self.host_rows = store.host_processes()

    def deliver(self, record: dict[str, Any]) -> None:
        """An event the store holds already (a run ended by this master) to the bus's hooks."""
        if self.bus is not None:
            self.bus.deliver(record)

    def placed(self, spec: WorkflowSpec, sub: Submission, refuse: bool = True) -> WorkflowSpec:
        """The spec with its unplaced tasks placed (run_placement.py)."""
        return place_tasks(spec, sub.delegate_to, self.no_local_tasks and refuse)

    def job_of(self, run_id: str) -> dict[str, Any] | None:
        """What a task's child process on this host needs of its run (host_tasks.py)."""
        active = self.active.get(run_id)
        if active is None:
            return None
        run = active.run
        return {
            "path": str(run.request.path),
            "values": run.request.values,
            "home": str(self.home),
            "stack": run.journal.stack,
            "secrets": dict(run.secrets),
            "check_mode": run.request.check_mode,
            "store": run.request.store is not None,
            # The `facts` module's `{ agent = name }` in the child: the agents' facts of now.
            "agent_facts": {n: dict(a.facts) for n, a in list(self.dispatcher.registry.agents.items())},
        }

    # ---- submitting -------------------------------------------------------------------------

    async def submit(self, sub: Submission, trace: dict[str, str] | None = None) -> Plan:
        """`trace`: the client's W3C trace context (the runs' spans are its children)."""
        request, loaded = await asyncio.to_thread(self._load, sub)
        request.trace_parent = dict(trace or {})
        # Placement first: a refused task refuses the whole submission before any run exists.
        specs = [self.placed(spec, sub) for spec in _select(loaded, sub.workflow, sub.path)]
        runs: list[ActiveRun] = []
        for spec in specs:
            run_id = new_run_id()
            self.submissions.save(run_id, spec.name, sub)
            stack = request.stack or spec.stack
            digest = source_digest(sub.source)
            transition = RunTransition(run_id, spec.name, self.store, stack)
            transition.create(sub.path, sub.params, self.owner, source_digest=digest)
            runs.append(self._prepare(request, loaded, spec, sub, Resume(run_id), fresh=True))
        self._start(runs)
        return Plan([(r.run_id, r.spec.name, list(r.spec.tasks)) for r in runs])

    async def retry(self, run_id: str, failed_only: bool, current_source: str | None = None) -> Plan:
        """A new run of a finished run's workflow, from the source it was submitted with: every
        task again, or (`failed_only`) only its failed and skipped tasks, the others' outputs
        reused (sloth_engine.retry). `current_source`: the file's text now where this master
        knows it (its watched folder): a retry reusing outputs refuses a file changed since."""
        run = await asyncio.to_thread(self.get, run_id)
        sub = await asyncio.to_thread(self.submissions.get, run_id)
        if sub is None:
            raise NotFound(f"run {run_id} was not submitted to this master: nothing to run again")
        if failed_only and current_source is not None:
            check_source({**run, "source_digest": source_digest(sub.source)}, current_source, sub.path)
        sub = replace(sub, workflow=run["workflow"])
        request, loaded = await asyncio.to_thread(self._load, sub)
        spec = self.placed(_select(loaded, run["workflow"], sub.path)[0], sub)
        resume = plan_retry(run, spec, failed_only)
        self.submissions.save(resume.run_id, spec.name, sub)
        transition = RunTransition(resume.run_id, spec.name, self.store, request.stack or spec.stack)
        transition.create(sub.path, sub.params, self.owner, source_digest=source_digest(sub.source))
        active = self._prepare(request, loaded, spec, sub, resume, fresh=True)
        self._start([active])
        return Plan([(active.run_id, spec.name, list(spec.tasks))])

    def _load(self, sub: Submission) -> tuple[RunRequest, LoadedFile]:
        digest = hashlib.sha256(sub.source.encode("utf-8", "replace")).hexdigest()[:16]
        copy = self.home / "master" / "sources" / digest / (Path(sub.path).name or "workflow.sloth")
        copy.parent.mkdir(parents=True, exist_ok=True)
        if not copy.exists():
            copy.write_text(sub.source, encoding="utf-8")
        for rel, text in sub.files.items():  # the bundle's imports, where the copy imports them
            target = copy.parent / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        request = RunRequest(
            path=str(copy),
            values=sub.values,
            params=sub.params,
            max_parallel=sub.max_parallel,
            stack=sub.stack,
            home=self.home,
            store=self.store,
            bus=self.bus,
            agent_facts=self.dispatcher.registry.facts_of,
            lua_thread=True,  # Lua computing in a task must not hold the master's event loop
            shown_root=str(copy.parent),
        )
        try:
            return request, load(request)
        except DslError as exc:  # named as the client's file, not the master's copy
            root = str(copy.parent)
            raise DslError(str(exc).replace(root + "/", "").replace(root, ".")) from None

    def _prepare(
        self,
        request: RunRequest,
        loaded: LoadedFile,
        spec: WorkflowSpec,
        sub: Submission,
        resume: Resume,
        fresh: bool = False,
    ) -> ActiveRun:
        feed = RunFeed(self.epoch)
        request = replace(request, listeners=[feed, self.run_metrics.listen])
        if fresh and (request.stack or spec.stack):
            # A run of a stack, as a local `run` does it: lock, snapshot, rollback, drift.
            # (A run resumed after a restart keeps what its first master did.)
            request = replace(request, lifecycle=self._stack_lifecycle())
        run = WorkflowRun(request, loaded, spec, remote=self.dispatcher, resume=resume)
        files = sub.files or _files_beside(Path(request.path), sub)
        self.dispatcher.add_bundle(
            run.run_id, sub.path, sub.source, sub.values, request.stack or spec.stack, files
        )
        active = ActiveRun(run.run_id, spec, run, feed)
        self.active[run.run_id] = active
        return active

    def adopt(self, run: WorkflowRun, feed: RunFeed) -> None:
        """A run this master started outside a submission (a stack's drift fix, whose `feed`
        listens to it): watched (WatchRun), cancelled and counted like the submitted ones."""
        self.active[run.run_id] = ActiveRun(run.run_id, run.workflow, run, feed)

    def adopted_ended(self, run_id: str, result: RunResult | None, error: str = "") -> None:
        """An adopted run's end (its result, or the error it was refused with before it ran)."""
        active = self.active.get(run_id)
        if active is None or active.result is not None:
            return
        if result is None:
            result = _cancelled_result(active, error)
            result.status = RunStatus.FAILED
        active.result = result
        active.feed.finish(result)
        asyncio.get_running_loop().call_later(60.0, self.active.pop, run_id, None)

    def _stack_lifecycle(self) -> Any:
        if self._stacks is None:
            self._stacks = StackLifecycle(self.store)
        return self._stacks

    def _start(self, runs: list[ActiveRun]) -> None:
        job = asyncio.create_task(self._execute(runs))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _execute(self, runs: list[ActiveRun]) -> None:
        """The runs of one submission, one after the other (as a local `run` does)."""
        for active in runs:
            try:
                if active.cancelled is not None:
                    result = _cancelled_result(active)
                    active.run.transition.finish(RunStatus.CANCELLED, 0.0, active.cancelled)
                else:
                    result = await active.run.execute()
            except SlothError as exc:  # refused before it started (a stack's lock is held, ...)
                result = _cancelled_result(active, str(exc))
                result.status = RunStatus.FAILED
                self._finish_quietly(active, result)
            except Exception as exc:  # a broken run must not take the master down
                log.exception("run %s failed inside the master", active.run_id)
                result = _cancelled_result(active, f"the run stopped on an unexpected error: {exc}")
                result.status = RunStatus.FAILED
                self._finish_quietly(active, result)
            active.result = result
            active.feed.finish(result)
            self.dispatcher.forget_run(active.run_id)
            await asyncio.to_thread(self._forget_host, active.run_id)
            asyncio.get_running_loop().call_later(60.0, self.active.pop, active.run_id, None)

    async def record_kept(self) -> None:
        """Record, every few seconds, the outcomes the store refused at their end."""
        while True:
            await asyncio.sleep(RECORD_EVERY)
            if unrecorded.pending(self.home):
                await asyncio.to_thread(unrecorded.record_all, self.store, self.home)

    def _forget_host(self, run_id: str) -> None:
        """The run ended: its children's folders and records on this host are not needed."""
        shutil.rmtree(self.home / "master" / "host" / run_id, ignore_errors=True)
        try:
            self.host_rows.forget_run(run_id)
        except SlothError as exc:
            log.warning("run %s: cannot forget its host processes: %s", run_id, exc)

    def _finish_quietly(self, active: ActiveRun, result: RunResult) -> None:
        """End a run that did not end itself (refused before it started, or broken)."""
        if active.run.transition.ended:
            return  # the run recorded its own end before it raised
        try:
            active.run.transition.finish(result.status, 0.0, result.error)
        except SlothError as exc:
            log.error("cannot record the end of run %s: %s", active.run_id, exc)

    # ---- resuming after a restart -----------------------------------------------------------

    async def resume_unfinished(self) -> list[str]:
        """Prepare every unfinished run of the store; call before agents can connect.

        Each run is marked `resuming` (committed) and claimed before anything of it is loaded,
        and the mark goes when the run ends or this master stops cleanly. A run still marked at
        the next start, whose marking master is gone, was being resumed when that master
        crashed or hung: it is poison, and ends `failed` instead of taking the next one down.
        """
        recorded = await asyncio.to_thread(unrecorded.record_all, self.store, self.home)
        if recorded:
            log.warning("outcomes kept while the store refused them, recorded now: %s", ", ".join(recorded))
        kept = unrecorded.pending(self.home)  # ended runs the store still refuses: never resumed
        abandoned = await asyncio.to_thread(run_transition.abandon_gone, self.store, owner_gone, self.deliver)
        if abandoned:
            log.warning("runs of processes that are gone marked abandoned: %s", ", ".join(abandoned))
        resumed: list[ActiveRun] = []
        for row in self.store.runs.unfinished_runs():
            sub = self.submissions.get(row["run_id"])
            if sub is None or row["run_id"] in kept:
                continue  # a run of a local `run` process, or one that ended (its outcome kept)
            active = await self._resume_one(row, sub)
            if active is not None:
                resumed.append(active)
        for active in resumed:
            self._start([active])
        return [a.run_id for a in resumed]

    async def _resume_one(self, row: dict[str, Any], sub: Submission) -> ActiveRun | None:
        run_id, runs = row["run_id"], self.store.runs
        # Marked, and the master that marked it (the run's owner since) is gone: it died while
        # resuming it. A master still alive (one deposed with --ha restarts in place) is not.
        if row.get("resuming") and owner_gone(row):
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["resuming"]))
            reason = (
                f"not resumed again: a master stopped (crashed, hung or was killed) while resuming it "
                f"at {since}; a run that takes its master down is resumed once at most"
            )
            log.error("run %s quarantined: %s", run_id, reason)
            run_transition.end(self.store, run_id, RunStatus.FAILED, reason, self.deliver)
            return None
        runs.mark_resuming(run_id, time.time())
        run_transition.claim(self.store, run_id, self.owner)
        try:
            load = asyncio.to_thread(self._load, replace(sub, workflow=row["workflow"]))
            request, loaded = await asyncio.wait_for(load, RESUME_LOAD_TIMEOUT)
            spec = self.placed(_select(loaded, row["workflow"], sub.path)[0], sub, refuse=False)
        except TimeoutError:
            reason = f"cannot resume: loading its file took more than {RESUME_LOAD_TIMEOUT:g}s"
            run_transition.end(self.store, run_id, RunStatus.FAILED, reason, self.deliver)
            return None
        except SlothError as exc:
            run_transition.end(self.store, run_id, RunStatus.FAILED, f"cannot resume: {exc}", self.deliver)
            return None
        run = runs.get_run(run_id) or {}
        resume = Resume(run_id)
        resume.finished = self._finished_tasks(run_id, run.get("tasks") or [], spec, resume)
        return self._prepare(request, loaded, spec, sub, resume)

    def release_resumed(self) -> None:
        """A clean stop: the runs this master resumed did not take it down; the next master
        resumes them as usual."""
        for active in list(self.active.values()):
            if active.result is None and active.run.resume is not None:
                try:
                    self.store.runs.mark_resuming(active.run_id, None)
                except SlothError:
                    log.exception("cannot clear the resume mark of run %s", active.run_id)

    def _finished_tasks(
        self, run_id: str, attempts: list[dict[str, Any]], spec: WorkflowSpec, resume: Resume
    ) -> dict[str, TaskResult]:
        latest: dict[str, dict[str, Any]] = {}
        for row in attempts:
            if row["task"] in spec.tasks and row["attempt"] >= latest.get(row["task"], {}).get("attempt", 0):
                latest[row["task"]] = row
        on_host = self.host_rows.of_run(run_id)
        finished: dict[str, TaskResult] = {}
        for name, row in latest.items():
            status = TaskStatus(row["status"])
            if not status.finished:
                if spec.tasks[name].placement.on_master:
                    self._in_flight(run_id, name, row, on_host.get(name), resume)
                continue
            result = TaskResult(
                name,
                status,
                row["attempt"],
                started_at=row.get("started_at"),
                duration_s=row.get("duration_s") or 0.0,
                agent=row.get("agent") or "local",
                message=row.get("message") or "",
                error=row.get("error") or "",
                outputs=row.get("outputs") or {},
            )
            run_if_skip = status is TaskStatus.SKIPPED and result.message.startswith("run_if")
            result.blocks_dependents = not status.ok and not run_if_skip
            finished[name] = result
        # Any unfinished task of an agent may be running there, even one with no row yet (the
        # master died between dispatching it and writing its "running" row): each waits for
        # the agents to come back and is adopted if one of them still runs it.
        for name, task in spec.tasks.items():
            if name in finished or task.placement.local:
                continue
            if not task.placement.on_master:
                self.dispatcher.expected.add((run_id, name))
            elif name not in latest and name in on_host:  # started, its row not written yet
                self._in_flight(run_id, name, {"attempt": 0, "status": "running"}, on_host[name], resume)
        return finished

    def _in_flight(
        self, run_id: str, name: str, row: dict[str, Any], proc: HostProcess | None, resume: Resume
    ) -> None:
        """A task on this host that had not ended: it goes on at its true attempt number.

        Attempt N running with a child recorded for it: adopt that child (or record it lost).
        Attempt N retrying (it failed, the next had not started or had): go on at N + 1, adopting
        the child of N + 1 if one was recorded. Running without a child: it never started.
        """
        attempt = int(row["attempt"])
        if TaskStatus(row["status"]) is TaskStatus.RETRYING:
            attempt += 1
        if proc is not None and proc.attempt >= attempt:
            attempt = proc.attempt
            if self.host is not None:
                self.host.expected[(run_id, name)] = proc
        elif TaskStatus(row["status"]) is not TaskStatus.RETRYING:
            return  # attempt N never reached its process: it starts over as usual
        resume.in_flight[name] = attempt

    # ---- steering and reading ---------------------------------------------------------------

    def cancel(self, run_id: str, reason: str, force: bool = False) -> None:
        """Cancel a run of this master; with `force`, end in the store a run nobody runs."""
        active = self.active.get(run_id)
        if active is not None and active.result is None:
            active.cancelled = reason or "cancelled"
            active.run.cancel(active.cancelled)
            return
        run = self.store.runs.get_run(run_id, with_tasks=False)
        if run is None:
            raise NotFound(f"no run {run_id}")
        if run["finished_at"] is not None:
            raise Rejected(f"run {run_id} has already finished ({run['status']})")
        if not force:
            raise Rejected(
                f"run {run_id} is recorded {run['status']} but no process of this master runs it; "
                f"`runs cancel --force {run_id}` ends it"
            )
        text = f"{reason or 'cancelled'} (forced: no process was running it)"
        try:
            run_transition.cancel(self.store, run_id, text, self.deliver)
        except RunTransitionRefused as exc:  # it ended between the check above and now
            raise Rejected(str(exc)) from None

    def get(self, run_id: str) -> dict[str, Any]:
        run = self.store.runs.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        return run

    def report_of(self, run_id: str) -> RunResult:
        """A finished run's report, rebuilt from the store (the run is not in memory)."""
        run = self.get(run_id)
        latest: dict[str, dict[str, Any]] = {}
        for row in run["tasks"]:
            latest[row["task"]] = row
        tasks = [
            TaskResult(
                name,
                TaskStatus(row["status"]),
                row["attempt"],
                duration_s=row.get("duration_s") or 0.0,
                agent=row.get("agent") or "local",
                message=row.get("message") or "",
                error=row.get("error") or "",
                outputs=row.get("outputs") or {},
            )
            for name, row in latest.items()
        ]

        status = (
            RunStatus(run["status"]) if run["status"] in RunStatus._value2member_map_ else RunStatus.RUNNING
        )
        return RunResult(
            run_id,
            run["workflow"],
            status,
            run.get("duration_s") or 0.0,
            tasks,
            run.get("error") or "",
            run.get("started_at") or 0.0,
        )

    async def close(self) -> None:
        for active in list(self.active.values()):
            if active.result is None:
                active.run.executor.cancel("master shutting down")
        if self._jobs:
            await asyncio.wait(self._jobs, timeout=5.0)


def _select(loaded: LoadedFile, name: str, path: str) -> list[WorkflowSpec]:
    workflows = loaded.spec.workflows
    if not workflows:
        raise DslError("the file defines no workflow", path)
    if not name:
        return list(workflows)
    spec = loaded.spec.get(name)
    if spec is None:
        known = ", ".join(w.name for w in workflows)
        raise DslError(f"no workflow named '{name}' (the file has: {known})", path)
    return [spec]


def _files_beside(copy: Path, sub: Submission) -> dict[str, str]:
    """The bundle's imported files when the submission did not carry them: a resumed run (they
    were kept beside the master's copy) or a file on the master's disk (a schedule)."""

    for path in (copy, Path(sub.path)):
        try:
            files = collect(path, sub.source) if path.is_file() else {}
        except DslError as exc:
            log.warning("run bundle of %s: %s", sub.path, exc)
            return {}
        if files:
            return files
    return {}


def _cancelled_result(active: ActiveRun, error: str = "") -> RunResult:
    tasks = [TaskResult(n, TaskStatus.CANCELLED) for n in active.spec.tasks]
    return RunResult(
        active.run_id, active.spec.name, RunStatus.CANCELLED, 0.0, tasks, error or active.cancelled or ""
    )
