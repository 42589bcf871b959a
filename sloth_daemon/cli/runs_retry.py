"""`runs retry RUN_ID [--failed-only]`: a new run of a finished run's workflow.

`--failed-only` runs again only the tasks that failed or were skipped; the tasks that succeeded
are not run, their recorded outputs are their dependents' input (sloth_engine.retry). Without
it every task runs. Here the run goes from the recorded workflow file (refused when the file
changed since, for --failed-only); with --master the master runs it from the source it was
submitted with, and the run is followed as `run --master` follows one.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.errors import NotFound

from .grammar import add_output


def register(rsub: Any, parents: list[argparse.ArgumentParser]) -> None:
    retry = rsub.add_parser(
        "retry",
        parents=parents,
        help="run a finished run's workflow again (--failed-only: only its failed and skipped tasks)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog="examples:\n  sloth-daemon runs retry 20260101-120000-ab12cd34 --failed-only\n"
        "  sloth-daemon runs retry RUN_ID --failed-only --master 127.0.0.1:50053",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    retry.add_argument("run_id", metavar="RUN", help="`last`, a run id, or a unique prefix of one (3fa2)")
    retry.add_argument(
        "--failed-only",
        action="store_true",
        help="run only the failed and skipped tasks; the others' recorded outputs are reused",
    )
    add_output(retry)
    retry.add_argument("--show-output", action="store_true", help="print task output lines as they come")
    retry.add_argument("--junit", metavar="PATH", help="write a JUnit XML report")
    retry.add_argument("--detach", action="store_true", help="with --master: print the new run id and return")
    retry.set_defaults(func=with_gateway(cmd_retry))


def cmd_retry(args: argparse.Namespace, gateway: Any) -> int:
    try:  # `last`, an id or a unique prefix
        args.run_id = str(gateway.runs.resolve(args.run_id))
    except NotFound:
        raise NotFound(f"no run '{args.run_id}'") from None
    # lazy: the engine's run machinery loads when a retry runs, not for `runs list` or --help
    from sloth_engine.run import file_digest

    # lazy: the engine's run machinery loads when a retry runs, not for `runs list` or --help
    from sloth_engine.run_owner import current_owner

    # lazy: the engine's run machinery loads when a retry runs, not for `runs list` or --help
    from sloth_engine.run_transition import RunTransition

    # lazy: the engine's run machinery loads when a retry runs, not for `runs list` or --help
    from .run_cmd import _write_reports, exit_code, run_here

    retried = gateway.runs.retry(args.run_id, args.failed_only)
    if retried.warning:
        print(retried.warning, file=sys.stderr)
    if retried.local is None:
        return _follow(args, gateway, retried.planned)
    request, loaded, workflow, resume = retried.local
    again = [name for name in workflow.tasks if name not in resume.finished]
    print(
        f"run {args.run_id} retried as run {resume.run_id}: running {', '.join(again)}"
        + (f"; reusing {', '.join(resume.finished)}" if resume.finished else ""),
        file=sys.stderr,
    )
    stack = request.stack or workflow.stack
    transition = RunTransition(resume.run_id, workflow.name, request.store, stack)
    digest = file_digest(request.path)
    transition.create(str(request.path), request.params, current_owner(), source_digest=digest)
    results, interrupted = run_here(request, loaded, [workflow], args, resume)
    return exit_code(results, interrupted, _write_reports(results, args))


def _follow(args: argparse.Namespace, gateway: Any, planned: list[Any]) -> int:
    """Through a master: follow the new run to its end (Ctrl-C cancels it)."""
    # lazy: the follower's module is needed only with --master
    from .remote_run import Interrupts, _follow_all

    # lazy: the follower's module is needed only with --master
    from .run_cmd import _write_reports, exit_code

    for run in planned:
        print(f"run {args.run_id} retried as run {run.run_id} on {gateway.where}", file=sys.stderr)
    if args.detach:
        for run in planned:
            print(run.run_id)
        return 0
    interrupts = Interrupts()
    previous = signal.signal(signal.SIGINT, interrupts)
    try:
        results, interrupted = _follow_all(gateway.client, planned, args.run_id, args, interrupts)
    finally:
        signal.signal(signal.SIGINT, previous)
    return exit_code(results, interrupted, _write_reports(results, args))
