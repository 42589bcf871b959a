"""One task attempt on a master's host, in a process of its own (`python -m` this module FOLDER).

The master writes the job (JSON: the workflow file, values, task, params, inputs, the store's
URL and the run's secrets) on stdin, so nothing secret touches the disk. The child writes its
identity to FOLDER/child.json, each output line to FOLDER/output.jsonl as it comes (secrets
redacted), and its outcome to FOLDER/result.json (atomically) before it exits. A master that
restarted while the child ran reads the same files: the child needs nothing of its parent.

It imports the engine only (no gRPC), so it starts in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from sloth_engine.errors import SlothError
from sloth_engine.executor.attempt import AttemptJob, AttemptRunner, WorkflowSource
from sloth_engine.executor.results import AttemptOutcome
from sloth_engine.run_owner import current_owner
from sloth_engine.secrets import Redactor
from sloth_engine.spec import TaskStatus
from sloth_engine.store import Store, open_store

OUTPUT = "output.jsonl"
RESULT = "result.json"
IDENTITY = "child.json"


def main(argv: list[str]) -> int:
    folder = Path(argv[1])
    job = json.loads(sys.stdin.read() or "{}")
    _write_atomically(folder / IDENTITY, _identity())
    with open(folder / OUTPUT, "a", encoding="utf-8", buffering=1) as out:
        try:
            outcome = asyncio.run(_attempt(job, out))
        except SlothError as exc:  # the file no longer loads, the store cannot be opened
            outcome = AttemptOutcome(TaskStatus.FAILED, str(exc), str(exc))
    result: Any = {
        "status": outcome.status.value,
        "message": outcome.message,
        "error": outcome.error,
        "outputs": outcome.outputs,
    }
    redact = _redactor({str(k): str(v) for k, v in (job.get("secrets") or {}).items()})
    if redact is not None:  # the file stays on disk until the run ends: no secret in it
        result = redact.value(result)
    _write_atomically(folder / RESULT, json.dumps(result, default=str))
    return 0


def _identity() -> str:
    me = current_owner()
    data = {"host": me.host, "boot": me.boot, "pid": me.pid, "pgid": os.getpgid(0), "started": me.started}
    return json.dumps(data)


async def _attempt(job: dict[str, Any], out: TextIO) -> AttemptOutcome:
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    # The master stops an attempt (cancel, timeout) with SIGTERM: its commands are stopped too.
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    store = _store(job)
    try:
        return await _run(job, out, store, loop)
    except asyncio.CancelledError:
        return AttemptOutcome(TaskStatus.CANCELLED, "stopped by the master", "stopped by the master")
    finally:
        if store is not None:
            store.close()


async def _run(
    job: dict[str, Any], out: TextIO, store: Store | None, loop: asyncio.AbstractEventLoop
) -> AttemptOutcome:
    source = WorkflowSource(
        path=job["path"],
        values=job.get("values") or {},
        stack=job.get("stack"),
        check_mode=bool(job.get("check_mode")),
        store=store,
        agent_facts=(job.get("agent_facts") or {}).__getitem__,
    )
    home, cwd = Path(job["home"]), Path(job["cwd"])
    runner = await asyncio.to_thread(AttemptRunner, source, home=home, cwd=cwd)
    attempt = AttemptJob(
        run_id=job["run_id"],
        workflow=job["workflow"],
        task=job["task"],
        attempt=int(job.get("attempt") or 1),
        params=job["params"],
        inputs=job["inputs"],
        cwd=cwd,
        secrets={str(k): str(v) for k, v in (job.get("secrets") or {}).items()},
    )
    try:
        return await runner.run(attempt, lambda stream, line: _write_line(out, stream, line))
    finally:
        runner.close()


def _store(job: dict[str, Any]) -> Store | None:
    if not job.get("store", True):
        return None
    return open_store(job.get("db"))


def _redactor(secrets: dict[str, str]) -> Redactor | None:
    if not secrets:
        return None
    return Redactor(secrets.values())


def _write_line(out: TextIO, stream: str, line: str) -> None:
    out.write(json.dumps({"s": stream, "l": line}) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the result is written: a Lua thread stuck in C must not hold the exit
