"""`runs list|show|logs|cancel`: the run history kept in the store, or a master's (--master /
$SLOTH_MASTER): list, show and logs through sloth_daemon.gateway.

RUN is `last`, a run id, or a unique prefix of one (of the id or of its random part: `3fa2`).
`runs logs --follow` prints lines as they come until the run ends: from the store, or with a
master from its WatchRun feed (runs_follow.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.errors import NotFound
from sloth_engine.spec import RunStatus
from sloth_engine.status_words import run_status
from sloth_engine.store.run_refs import resolve_run_id

from . import runs_retry
from .grammar import add_output, as_json
from .store_access import duration, fail, print_json, print_table, when, with_store

RUN_HELP = "`last`, a run id, or a unique prefix of one (3fa2)"
STATUSES = ", ".join(s.value for s in RunStatus)

if TYPE_CHECKING:
    from sloth_engine.store import Store


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    runs = sub.add_parser("runs", help="past and current runs, their tasks and output")
    rsub = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    lst = rsub.add_parser("list", help="the most recent runs", parents=parents)
    lst.add_argument("--workflow", "-w", help="only runs of this workflow")
    lst.add_argument("--status", help=f"only runs with this status: {STATUSES} (synonyms: succeeded, ...)")
    lst.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    add_output(lst)
    lst.set_defaults(func=with_gateway(cmd_list))
    show = rsub.add_parser(
        "show", help="a run: its tasks, attempts, durations, errors, outputs", parents=parents
    )
    show.add_argument("run_id", metavar="RUN", help=RUN_HELP)
    add_output(show)
    show.set_defaults(func=with_gateway(cmd_show))
    logs = rsub.add_parser(
        "logs", help="captured output of a run's tasks (stderr lines marked with !)", parents=parents
    )
    logs.add_argument("run_id", metavar="RUN", help=RUN_HELP)
    logs.add_argument("task", nargs="?", help="only this task")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="print lines as they come until the run ends"
    )
    add_output(logs)  # json: one object per line
    logs.set_defaults(func=with_gateway(cmd_logs))
    cancel = rsub.add_parser(
        "cancel",
        help="cancel a run in progress on a master; --force ends one nobody runs",
        description="Cancel a run in progress on a master. --force is no confirmation here: it ends,"
        " in the store, a run that no process runs any more (its owner died), recorded cancelled.",
        parents=parents,
    )
    cancel.add_argument("run_id", metavar="RUN", help=RUN_HELP)
    cancel.add_argument("--reason", default="cancelled by an operator")
    cancel.add_argument(
        "--force",
        action="store_true",
        help="end the run in the store even though no process runs it (its owner is gone);"
        " not a confirmation (cancel never asks)",
    )
    cancel.set_defaults(func=cmd_cancel)
    runs_retry.register(rsub, parents)


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    status = run_status(args.status).value if args.status else None
    abandon_gone(gateway)
    runs = gateway.runs.list_runs(workflow=args.workflow, status=status, limit=args.limit)
    if as_json(args):
        print_json(runs)
        return 0
    if not runs:
        print("no runs recorded", file=sys.stderr)
        return 0
    rows = [
        (
            r["run_id"],
            r["workflow"],
            r["status"],
            when(r["started_at"]),
            duration(r["duration_s"]),
            r["error"],
        )
        for r in runs
    ]
    print_table(("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "ERROR"), rows)
    return 0


def abandon_gone(gateway: Any) -> None:
    """Runs whose owning process is gone end `abandoned` (a master does this itself)."""
    abandon = getattr(gateway.runs, "abandon_gone", None)
    if abandon is None:
        return  # through a master: it marks them itself
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.run_owner import owner_gone

    _say_abandoned(abandon(owner_gone))


def _say_abandoned(run_ids: list[str]) -> None:
    for run_id in run_ids:
        print(f"run {run_id}: its process is gone, marked abandoned", file=sys.stderr)


def cmd_show(args: argparse.Namespace, gateway: Any) -> int:
    abandon_gone(gateway)
    run = gateway.runs.get_run(resolve(gateway, args.run_id))
    if run is None:
        return fail(f"no run '{args.run_id}'")
    if as_json(args):
        print_json(run)
        return 0
    print(f"run       {run['run_id']}")
    print(f"workflow  {run['workflow']}  ({run['file'] or '-'})")
    if run["stack"]:
        print(f"stack     {run['stack']}")
    print(f"status    {run['status']}")
    print(f"started   {when(run['started_at'])}   duration {duration(run['duration_s'])}")
    if run["params"]:
        print(f"params    {json.dumps(run['params'], ensure_ascii=False)}")
    if run["error"]:
        print(f"error     {run['error']}")
    tasks = run["tasks"]
    if not tasks:
        print("no task attempts recorded")
        return 0
    print()
    rows = [
        (
            t["task"],
            t["attempt"],
            t["status"],
            duration(t["duration_s"]),
            t["agent"] or "local",
            t["exit_code"],
            t["error"] or t["message"],
            t["outputs"],
        )
        for t in tasks
    ]
    print_table(("TASK", "ATTEMPT", "STATUS", "DURATION", "AGENT", "EXIT", "ERROR/MESSAGE", "OUTPUTS"), rows)
    return 0


def resolve(gateway: Any, ref: str) -> str:
    """The run id RUN names (`last`, an id, a unique prefix)."""
    return _named(ref, gateway.runs.resolve)


def _named(ref: str, resolver: Callable[[str], str]) -> str:
    """resolver(ref), its NotFound saying `no run 'REF'` (UsageError, ambiguous: exit 2)."""
    try:
        return resolver(ref)
    except NotFound:
        raise NotFound(f"no run '{ref}'") from None


def cmd_logs(args: argparse.Namespace, gateway: Any) -> int:
    # lazy: only `runs logs` needs it
    from .runs_follow import LogPrinter, follow

    args.run_id = resolve(gateway, args.run_id)
    if args.follow:
        return follow(gateway, args)
    lines = gateway.runs.get_logs(args.run_id, args.task)
    if not lines:
        which = f"task '{args.task}' of run" if args.task else "run"
        print(f"no output captured for {which} {args.run_id}", file=sys.stderr)
        return 0
    printer = LogPrinter(args.task, as_json(args), multi_attempt=len({line["attempt"] for line in lines}) > 1)
    for line in lines:
        printer(line)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import master_address

    master = master_address(getattr(args, "master", None))
    if master:
        # lazy: loaded when this command runs, not for --help (it loads every command module)
        from sloth_daemon.client import MasterClient

        with MasterClient(master) as client:
            args.run_id = _named(args.run_id, lambda ref: str(client.get_run(ref)["run_id"]))
            client.cancel_run(args.run_id, args.reason, args.force)
        print(f"run {args.run_id}: {'ended' if args.force else 'cancel sent'}", file=sys.stderr)
        return 0
    return with_store(_cancel_local)(args)


def _cancel_local(args: argparse.Namespace, store: Store) -> int:
    """Without a master: only a run whose process is gone can be ended, by --force."""
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine import run_transition
    from sloth_engine.errors import RunTransitionRefused  # lazy: as above

    # lazy: as above
    from sloth_engine.run_owner import current_owner, owner_gone

    _say_abandoned(run_transition.abandon_gone(store, owner_gone))
    args.run_id = _named(args.run_id, lambda ref: resolve_run_id(store, ref))
    run = store.runs.get_run(args.run_id, with_tasks=False)
    if run is None:
        return fail(f"no run '{args.run_id}'")
    if run["finished_at"] is not None:
        return fail(f"run {args.run_id} has already finished ({run['status']})")
    here = current_owner()
    if run.get("owner_pid") and run.get("owner_host") == here.host and not owner_gone(run, here):
        where = f"process {run['owner_pid']}"
        if not args.force:
            return fail(
                f"run {args.run_id} is running in {where} on this machine: stop it there (Ctrl-C, "
                f"kill {run['owner_pid']}), or give its master (--master); --force ends the record"
            )
    elif not args.force:
        status = run["status"]
        return fail(f"run {args.run_id} is recorded {status}; `runs cancel --force {args.run_id}` ends it")
    text = f"{args.reason} (forced)"
    try:
        run_transition.cancel(store, args.run_id, text)
    except RunTransitionRefused as exc:  # it ended between the check above and now
        return fail(str(exc))
    print(f"run {args.run_id}: ended, recorded cancelled", file=sys.stderr)
    return 0
