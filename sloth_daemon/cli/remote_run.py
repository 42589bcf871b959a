"""`run FILE --master HOST:PORT`: submit the run to a master and follow it live.

The same progress lines, exit codes and JSON / JUnit reports as a local run. Ctrl-C cancels
the run on the master and waits for its report (a second Ctrl-C stops waiting); `--detach`
prints the run ids and returns at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError
from sloth_engine.executor.results import RunResult
from sloth_engine.run import RunRequest
from sloth_engine.spec import RunStatus, TaskSpec, WorkflowSpec

from .progress import LiveProgress, PlainProgress

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def run_on_master(args: argparse.Namespace, request: RunRequest, master: str) -> int:
    from sloth_daemon.client import MasterClient

    try:
        source = Path(request.path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read workflow file {request.path}: {exc.strerror}") from None
    with MasterClient(master) as client:
        plan = client.submit_run(
            request.path,
            source,
            workflow=args.workflow or "",
            values=request.values,
            params=request.params,
            max_parallel=request.max_parallel,
            stack=request.stack,
            delegate_to=getattr(args, "delegate_to", None),
        )
        if args.detach:
            for run in plan:
                print(run.run_id)
            return EXIT_OK
        results, interrupted = _follow_all(client, plan, request.path, args)
    from .run_cmd import _write_reports

    _write_reports(results, args)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(r.status is RunStatus.SUCCESS for r in results) else EXIT_FAILED


def _follow_all(
    client: Any, plan: list[Any], path: str, args: argparse.Namespace
) -> tuple[list[RunResult], bool]:
    results: list[RunResult] = []
    interrupted = False
    live = sys.stderr.isatty() and args.output == "text" and not args.show_output
    for index, planned in enumerate(plan):
        if interrupted:
            _cancel(client, planned.run_id)
            continue
        progress: Any = LiveProgress() if live else PlainProgress(show_output=args.show_output)
        spec = WorkflowSpec(planned.workflow, path, tasks={t: TaskSpec(t) for t in planned.tasks})
        progress.start(spec, planned.run_id)
        result, interrupted = _follow(client, planned.run_id, progress)
        progress.finish(result)
        results.append(result)
        if interrupted:
            for later in plan[index + 1 :]:
                _cancel(client, later.run_id)
            break
    return results, interrupted


def _follow(client: Any, run_id: str, progress: Any) -> tuple[RunResult, bool]:
    """Feed the run's events to `progress` until its report; Ctrl-C cancels it on the master."""
    from sloth_daemon.client import RunCursor

    cursor = RunCursor()
    interrupted = False
    warned = [False]

    def reconnecting(reason: str) -> None:
        if not warned[0]:
            print(f"{reason}; reconnecting...", file=sys.stderr, flush=True)
            warned[0] = True

    while True:
        try:
            for item in client.follow_run(run_id, on_reconnect=reconnecting, cursor=cursor):
                if isinstance(item, RunResult):
                    return item, interrupted
                progress(item)
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            print(
                "interrupted: cancelling the run on the master (Ctrl-C again to stop waiting)",
                file=sys.stderr,
            )
            _cancel(client, run_id)


def _cancel(client: Any, run_id: str) -> None:
    from sloth_daemon.errors import Rejected

    try:
        client.cancel_run(run_id, "interrupted")
    except Rejected:
        pass  # it has finished meanwhile
