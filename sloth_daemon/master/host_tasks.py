"""Task attempts placed on the master's host: each in a child process, never in the master.

Before a child starts, its attempt is written to `host_processes` (with its folder); once it
runs, its identity (host, boot id, pid, process group, start time). The child writes its
output lines and its result into its folder (host_child.py), so it needs nothing of the master
that started it: a master killed while the child runs leaves it running, and the next master
adopts it (follows its output and collects its result) if it still lives or left a result,
or records the attempt lost, so the task's retry policy decides — it never starts a second
copy of an attempt that still runs. The child is in a session of its own: the master's
process group dying (SIGKILL, a terminal closing) does not reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sloth_daemon.master import host_child
from sloth_engine.errors import StoreError
from sloth_engine.executor.remote import RemoteTask
from sloth_engine.executor.results import AttemptOutcome
from sloth_engine.process import PIPE, signal_group, start_async
from sloth_engine.run_owner import _start_time, boot_id, owner_gone
from sloth_engine.spec import MASTER_PLACEMENT, TaskStatus
from sloth_engine.store import Store
from sloth_engine.store.host_processes import HostProcess
from sloth_engine.store.retry import retrying

log = logging.getLogger(__name__)

Key = tuple[str, str]
Sink = Callable[[str, str], None]
JobOf = Callable[[str], dict[str, Any] | None]

TIMEOUT_GRACE = 10.0
"""How long past a task's own timeout the master waits before it kills the child."""
STOP_GRACE = 5.0
"""Between SIGTERM and SIGKILL when the master stops a child (cancel, timeout)."""
POLL_MAX = 0.2


class HostTasks:
    def __init__(self, store: Store, home: Path, db: str | None) -> None:
        self.rows = store.host_processes()
        self.store = store
        self.home = home
        self.db = db
        self.job_of: JobOf = lambda run_id: None
        """What the run service knows of a run: its file, values, stack, secrets (a dict)."""
        self.expected: dict[Key, HostProcess] = {}
        """Attempts of resumed runs that a previous master started on this host."""
        self.children: dict[Key, int] = {}
        """Process groups of the children running now (for /metrics and tests)."""

    async def execute(self, task: RemoteTask, sink: Sink) -> tuple[AttemptOutcome, str]:
        key = (task.run_id, task.task)
        known = self.expected.pop(key, None)
        if known is not None and known.attempt == task.attempt:
            return await self._adopt(known, task, sink), MASTER_PLACEMENT
        job = self.job_of(task.run_id)
        if job is None:
            text = f"run {task.run_id} is not running on this master"
            return AttemptOutcome(TaskStatus.FAILED, text, text), MASTER_PLACEMENT
        if task.on_placed is not None:
            task.on_placed(MASTER_PLACEMENT)
        return await self._start(task, job, sink), MASTER_PLACEMENT

    # ---- a new child ------------------------------------------------------------------------

    async def _start(self, task: RemoteTask, job: dict[str, Any], sink: Sink) -> AttemptOutcome:
        folder = self.home / "master" / "host" / task.run_id / _safe(task.task) / str(task.attempt)
        shutil.rmtree(folder, ignore_errors=True)  # a stale folder of an attempt never started
        folder.mkdir(parents=True, exist_ok=True)
        intend = self.rows.intend
        await asyncio.to_thread(
            retrying, lambda: intend(task.run_id, task.task, task.attempt, str(folder), time.time())
        )
        payload = {
            **job,
            "db": self.db,
            "run_id": task.run_id,
            "workflow": task.workflow,
            "task": task.task,
            "attempt": task.attempt,
            "params": task.params,
            "inputs": task.inputs,
            "cwd": task.cwd or str(Path.cwd()),
        }
        with open(folder / "child.log", "ab") as log_file:
            argv = [sys.executable, "-m", host_child.__name__, str(folder)]
            proc = await start_async(argv, stdin=PIPE, stdout=log_file, stderr=log_file)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload, default=str).encode())
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        proc.stdin.close()
        me = _identity(task, folder, proc.pid)
        try:
            await asyncio.to_thread(retrying, lambda: self.rows.started(me))
        except StoreError as exc:  # it runs: follow it all the same (child.json names it too)
            log.warning("run %s: cannot record the process of task %s: %s", task.run_id, task.task, exc)

        async def exited(wait: float) -> bool:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), wait)
            return proc.returncode is not None

        return await self._follow(me, task, sink, exited, 0)

    # ---- a child a previous master started ----------------------------------------------------

    async def _adopt(self, known: HostProcess, task: RemoteTask, sink: Sink) -> AttemptOutcome:
        folder = Path(known.folder)
        me = known if known.pid else _read_identity(task, folder) or known
        seen = await asyncio.to_thread(self._lines_recorded, task)
        if not (folder / host_child.RESULT).exists():
            if me.host and me.host != socket.gethostname():
                text = (
                    f"lost: attempt {task.attempt} ran on the master's host {me.host}; its outcome "
                    "cannot be known from this host"
                )
                return AttemptOutcome(TaskStatus.FAILED, text, text)
            if me.pid is None or owner_gone(me.owner_row()):
                return _lost(task.attempt, "its process is gone")
        log.warning(
            "run %s: adopting task %s (attempt %d, pid %s)", task.run_id, task.task, task.attempt, me.pid
        )

        async def exited(wait: float) -> bool:
            if (folder / host_child.RESULT).exists() or owner_gone(me.owner_row()):
                return True
            await asyncio.sleep(wait)
            return False

        return await self._follow(me, task, sink, exited, seen)

    def _lines_recorded(self, task: RemoteTask) -> int:
        """Output lines of the attempt the store has already (forwarded by the previous master)."""
        try:
            return self.rows.lines_recorded(task.run_id, task.task, task.attempt)
        except StoreError:  # at worst some lines are shown twice
            return 0

    # ---- following a child to its end ------------------------------------------------------

    async def _follow(
        self,
        me: HostProcess,
        task: RemoteTask,
        sink: Sink,
        exited: Callable[[float], Any],
        skip: int,
    ) -> AttemptOutcome:
        folder = Path(me.folder)
        tail = _Tail(folder / host_child.OUTPUT, sink, skip)
        key = (task.run_id, task.task)
        if me.pgid:
            self.children[key] = me.pgid
        deadline = time.monotonic() + task.timeout + TIMEOUT_GRACE if task.timeout else None
        wait = 0.005
        try:
            while not await exited(wait):
                tail.read()
                wait = min(POLL_MAX, wait * 2)
                if deadline is not None and time.monotonic() > deadline:
                    await self._stop(me)
                    tail.read()
                    text = f"timed out after {task.timeout:g}s (its process on the master's host did not end)"
                    return AttemptOutcome(TaskStatus.TIMED_OUT, text, text)
        except asyncio.CancelledError:
            await asyncio.shield(self._stop(me))
            raise
        finally:
            self.children.pop(key, None)
        tail.read()
        _relay_log(folder / "child.log", task)
        return _result(folder, task.attempt)

    async def _stop(self, me: HostProcess) -> None:
        """SIGTERM to the child's group (it stops its commands), SIGKILL after a grace."""
        if not me.pgid or owner_gone(me.owner_row()):
            return
        signal_group(me.pgid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if owner_gone(me.owner_row()):
                return
            await asyncio.sleep(0.05)
        signal_group(me.pgid, signal.SIGKILL)


class _Tail:
    """The new complete lines of a child's output file, forwarded to the run."""

    def __init__(self, path: Path, sink: Sink, skip: int) -> None:
        self.path = path
        self.sink = sink
        self.skip = skip
        self.offset = 0

    def read(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        self.offset += end + 1
        for raw in data[: end + 1].splitlines():
            try:
                item = json.loads(raw)
                stream, line = str(item["s"]), str(item["l"])
            except (ValueError, KeyError, TypeError):
                continue
            if self.skip > 0 and stream != "event":
                self.skip -= 1
                continue
            if self.skip > 0:
                continue  # an event the previous master already turned into one
            self.sink(stream, line)


def _identity(task: RemoteTask, folder: Path, pid: int) -> HostProcess:
    return HostProcess(
        task.run_id,
        task.task,
        task.attempt,
        str(folder),
        socket.gethostname(),
        boot_id(),
        pid,
        pid,  # start_new_session: the child leads its own process group
        _start_time(pid) or 0.0,
    )


def _read_identity(task: RemoteTask, folder: Path) -> HostProcess | None:
    """The identity the child wrote itself (a master killed before it recorded it)."""
    try:
        data = json.loads((folder / host_child.IDENTITY).read_text(encoding="utf-8"))
        return HostProcess(
            task.run_id,
            task.task,
            task.attempt,
            str(folder),
            data["host"],
            data["boot"],
            int(data["pid"]),
            int(data["pgid"]),
            float(data["started"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _result(folder: Path, attempt: int) -> AttemptOutcome:
    try:
        data = json.loads((folder / host_child.RESULT).read_text(encoding="utf-8"))
        outputs = data.get("outputs")
        return AttemptOutcome(
            TaskStatus(data["status"]),
            str(data.get("message") or ""),
            str(data.get("error") or ""),
            outputs if isinstance(outputs, dict) else {},
        )
    except FileNotFoundError:
        detail = _last_line(folder / "child.log")
        return _lost(attempt, "its process ended without a result" + (f" ({detail})" if detail else ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _lost(attempt, f"its result cannot be read ({exc})")


def _lost(attempt: int, why: str) -> AttemptOutcome:
    text = f"lost: attempt {attempt} on the master's host did not finish: {why}"
    return AttemptOutcome(TaskStatus.FAILED, text, text)


def _relay_log(path: Path, task: RemoteTask) -> None:
    """What the child logged (warnings, a watchdog's verdict) goes to the master's log."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[-20_000:]
    except OSError:
        return
    for line in text.splitlines():
        if line.strip():
            log.warning("run %s task %s (on this host): %s", task.run_id, task.task, line)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _safe(name: str) -> str:
    """A folder name for a task name (readable, and unique by the name's hash)."""
    import hashlib

    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)[:80]}-{digest}"
