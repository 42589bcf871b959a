"""`runs logs RUN --follow`: a run's output lines as they come, until the run ends.

Locally the store is read as `tail -f` does (sloth_engine.store.tail, by row id) while the run
is unfinished. Through a master the lines come from its WatchRun feed (the run's events, which
replay from the start); what the store had before, and anything the feed did not carry (past
its cap, or before a master restart), is read from the store by GetRunLogs and printed once:
lines are counted per task attempt, so none is printed twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any

from sloth_engine.executor.results import RunResult
from sloth_engine.run_owner import owner_gone
from sloth_engine.spec import RunStatus

from .grammar import as_json

POLL_S = 0.25
OWNER_EVERY = 8
"""Polls between two looks at whether the run's process is still there."""


class LogPrinter:
    """Prints output lines as `runs logs` does: `[task#attempt] ! line` (! for stderr)."""

    def __init__(self, task: str | None, as_json: bool, multi_attempt: bool = True) -> None:
        self.task = task
        self.as_json = as_json
        self.multi_attempt = multi_attempt
        self.printed: Counter[tuple[str, int]] = Counter()

    def __call__(self, line: dict[str, Any]) -> None:
        if self.task is not None and line["task"] != self.task:
            return
        self.printed[(line["task"], int(line["attempt"]))] += 1
        if self.as_json:
            doc = {k: line.get(k) for k in ("task", "attempt", "stream", "ts", "line")}
            print(json.dumps(doc, ensure_ascii=False, default=str), flush=True)
            return
        if self.task is None:
            prefix = f"[{line['task']}#{line['attempt']}] "
        else:
            prefix = f"[#{line['attempt']}] " if self.multi_attempt else ""
        marker = "! " if line["stream"] == "stderr" else ""
        print(f"{prefix}{marker}{line['line']}", flush=True)

    def missing(self, lines: list[dict[str, Any]]) -> None:
        """Print the lines of `lines` (all the run's, in order) not printed yet."""
        seen: Counter[tuple[str, int]] = Counter()
        for line in lines:
            key = (line["task"], int(line["attempt"]))
            seen[key] += 1
            if seen[key] > self.printed[key]:
                self(line)


def follow(gateway: Any, args: argparse.Namespace) -> int:
    """Print the run's lines until it ends; exit 0, or 1 when the run did not succeed."""
    printer = LogPrinter(args.task, as_json(args))
    try:
        if gateway.remote:
            status = _follow_master(gateway, args.run_id, printer)
        else:
            status = _follow_store(gateway, args.run_id, printer)
    except KeyboardInterrupt:
        return 130
    print(f"run {args.run_id}: {status.value if status else 'gone'}", file=sys.stderr)
    return 0 if status is RunStatus.SUCCESS else 1


def _follow_store(gateway: Any, run_id: str, printer: LogPrinter) -> RunStatus | None:
    tail = gateway.admin.tail(run_id, "output")
    polls = 0
    while True:
        if polls % OWNER_EVERY == 0:  # a run whose process died ends abandoned: stop there
            gateway.runs.abandon_gone(owner_gone)
        polls += 1
        run = gateway.runs.get_run(run_id, with_tasks=False)
        finished = run is None or run.get("finished_at") is not None
        while True:  # read everything there is (1000 rows a read)
            rows = tail.read()
            for row in rows:
                printer(row)
            if not rows:
                break
        if finished:
            return RunStatus(run["status"]) if run else None
        time.sleep(POLL_S)


def _follow_master(gateway: Any, run_id: str, printer: LogPrinter) -> RunStatus | None:
    client = gateway.client
    printer.missing(client.run_logs(run_id))
    fed: Counter[tuple[str, int]] = Counter()
    status = None
    for item in client.follow_run(run_id):
        if isinstance(item, RunResult):
            status = item.status
            break
        if item.kind != "task.log" or item.task is None:
            continue
        key = (item.task, item.attempt)
        fed[key] += 1
        if fed[key] > printer.printed[key]:
            printer({"task": item.task, "attempt": item.attempt, "stream": item.status, "ts": item.ts,
                     "line": item.data.get("line", "")})  # fmt: skip
    printer.missing(client.run_logs(run_id))
    return status
