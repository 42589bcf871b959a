"""`run FILE --master HOST:PORT`: submit the run to a master and follow it live.

The same progress lines, exit codes and JSON / JUnit reports as a local run. Ctrl-C cancels
the run on the master and waits for its report (a second Ctrl-C stops waiting); `--detach`
prints the run ids and returns at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from sloth_engine import tracing
from sloth_engine.errors import UsageError
from sloth_engine.executor.results import RunResult
from sloth_engine.run import RunRequest
from sloth_engine.spec import RunStatus, TaskSpec, WorkflowSpec

from .grammar import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNRECORDED
from .progress import LiveProgress, PlainProgress


class Interrupts:
    """SIGINT while a run is submitted is only counted (the run id is not known yet); while it is
    followed, it raises KeyboardInterrupt so the run gets cancelled; a second one always raises."""

    def __init__(self) -> None:
        self.count = 0
        self.armed = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.armed or self.count > 1:
            raise KeyboardInterrupt


def run_on_master(args: argparse.Namespace, request: RunRequest, master: str) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import MasterClient

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.bundle import collect

    try:
        source = Path(request.path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read workflow file {request.path}: {exc.strerror}") from None
    interrupts = Interrupts()
    previous = signal.signal(signal.SIGINT, interrupts)
    attributes = {"sloth_workflow": args.workflow or "", "sloth_file": request.path, "sloth_master": master}
    try:
        with tracing.span("sloth.client.run", None, **attributes) as span, MasterClient(master) as client:
            plan = client.submit_run(
                request.path,
                source,
                workflow=args.workflow or "",
                values=request.values,
                params=request.params,
                max_parallel=request.max_parallel,
                stack=request.stack,
                delegate_to=getattr(args, "delegate_to", None),
                files=collect(request.path, source),
            )
            if args.detach:
                for run in plan:
                    print(run.run_id)
                return EXIT_OK
            results, interrupted = _follow_all(client, plan, request.path, args, interrupts)
            worst = next((r.status for r in results if r.status is not RunStatus.SUCCESS), RunStatus.SUCCESS)
            span.ended(worst.value, worst is RunStatus.SUCCESS and not interrupted)
    finally:
        signal.signal(signal.SIGINT, previous)
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from .run_cmd import _write_reports

    reported = _write_reports(results, args)
    if interrupted:
        return EXIT_INTERRUPTED
    if any(r.unrecorded for r in results):
        return EXIT_UNRECORDED  # neither success nor failure: the store has not said yet
    return EXIT_OK if reported and all(r.status is RunStatus.SUCCESS for r in results) else EXIT_FAILED


def _follow_all(
    client: Any, plan: list[Any], path: str, args: argparse.Namespace, interrupts: Interrupts
) -> tuple[list[RunResult], bool]:
    results: list[RunResult] = []
    live = sys.stderr.isatty() and args.output == "text" and not args.show_output
    interrupted = interrupts.count > 0
    if interrupted:  # Ctrl-C came while submitting: cancel what was submitted, report it
        _interrupted_note()
        for planned in plan:
            _cancel(client, planned.run_id)
    for planned in plan:
        progress: Any = LiveProgress() if live else PlainProgress(show_output=args.show_output)
        spec = WorkflowSpec(planned.workflow, path, tasks={t: TaskSpec(t) for t in planned.tasks})
        progress.start(spec, planned.run_id)
        result, stopped = _follow(client, planned.run_id, progress, interrupts)
        progress.finish(result)
        results.append(result)
        if stopped and not interrupted:
            interrupted = True
            for later in plan[len(results) :]:
                _cancel(client, later.run_id)
        if interrupted:
            break
    return results, interrupted


def _follow(client: Any, run_id: str, progress: Any, interrupts: Interrupts) -> tuple[RunResult, bool]:
    """Feed the run's events to `progress` until its report; Ctrl-C cancels it on the master."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
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
            interrupts.armed = True
            for item in client.follow_run(run_id, on_reconnect=reconnecting, cursor=cursor):
                if isinstance(item, RunResult):
                    return item, interrupted
                progress(item)
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            interrupts.armed = False
            _interrupted_note()
            _cancel(client, run_id)
        finally:
            interrupts.armed = False


def _interrupted_note() -> None:
    print("interrupted: cancelling the run on the master (Ctrl-C again to stop waiting)", file=sys.stderr)


def _cancel(client: Any, run_id: str) -> None:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.errors import Rejected

    try:
        client.cancel_run(run_id, "interrupted")
    except Rejected:
        pass  # it has finished meanwhile
