"""`scheduler add|list|delete|enable|disable|run`: workflow files fired by cron expressions.

Schedules live in the store; a running master fires them. `scheduler run NAME` fires one now:
on the master given by --master ($SLOTH_MASTER), else here, as `run` would.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError

from .store_access import master_of, print_json, print_table, until, when, with_store


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    sched = sub.add_parser("scheduler", help="fire workflows on cron schedules (run by the master)")
    ssub = sched.add_subparsers(dest="scheduler_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Any, with_name: bool = True) -> argparse.ArgumentParser:
        parser = ssub.add_parser(name, help=help, parents=parents)
        parser.set_defaults(func=with_store(handler))
        if with_name:
            parser.add_argument("name")
        return parser

    add = command("add", "schedule a workflow file", cmd_add)
    add.add_argument("--cron", required=True, help='"*/5 * * * *", or 6 fields with seconds first')
    add.add_argument("--file", "-f", required=True, help="the workflow file")
    add.add_argument("--workflow", "-w", default="", help="only this workflow of the file")
    add.add_argument("--values", help="YAML values file, read at each fire")
    add.add_argument("--tz", default="UTC", help="time zone of the cron fields (default UTC)")
    add.add_argument("--overlap", choices=("skip", "queue", "allow"), default="skip")
    add.add_argument("--catch-up", choices=("once", "none"), default="none", help="after a master was down")
    add.add_argument("--replace", action="store_true", help="replace a schedule of that name")
    lst = command("list", "schedules with their next fire time", cmd_list, with_name=False)
    lst.add_argument("--json", action="store_true")
    command("delete", "remove a schedule", cmd_delete)
    command("enable", "fire the schedule again (from now on)", cmd_enable)
    command("disable", "stop firing the schedule (kept)", cmd_disable)
    run = ssub.add_parser("run", help="fire a schedule now", parents=parents)
    run.add_argument("name")
    run.add_argument("--master", metavar="HOST:PORT", help="fire it on this master")
    run.set_defaults(func=cmd_run)


def _schedules(store: Any) -> Any:
    from sloth_engine.scheduler.schedules import ScheduleStore

    return ScheduleStore(store)


def cmd_add(args: argparse.Namespace, store: Any) -> int:
    from sloth_engine.dsl import load_file

    from .workflow_cmd import select

    path = Path(args.file).resolve()
    select(load_file(path), args.workflow or None)  # the file must load and have the workflow
    values = str(Path(args.values).resolve()) if args.values else None
    if values and not Path(values).is_file():
        raise UsageError(f"--values: no file {args.values}")
    schedule = _schedules(store).add(
        args.name,
        args.cron,
        str(path),
        workflow=args.workflow,
        values_file=values,
        tz=args.tz,
        overlap=args.overlap,
        catch_up=args.catch_up,
        replace=args.replace,
    )
    store.events.append("schedule.added", {"schedule": schedule.name, "cron": schedule.cron}, source="cli")
    print(f"schedule {schedule.name}: next at {when(schedule.next_fire_at)}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, store: Any) -> int:
    schedules = _schedules(store).list()
    if args.json:
        print_json([s._asdict() for s in schedules])
        return 0
    if not schedules:
        print("no schedules", file=sys.stderr)
        return 0
    now = time.time()
    rows = [
        (
            s.name,
            s.cron,
            s.tz,
            Path(s.file).name + (f" ({s.workflow})" if s.workflow else ""),
            s.overlap,
            "yes" if s.enabled else "no",
            f"{when(s.next_fire_at)} ({until(s.next_fire_at, now)})" if s.enabled else "-",
            when(s.last_fire_at),
            s.last_run_id or "-",
        )
        for s in schedules
    ]
    print_table(("NAME", "CRON", "TZ", "FILE", "OVERLAP", "ENABLED", "NEXT", "LAST", "LAST RUN"), rows)
    return 0


def cmd_delete(args: argparse.Namespace, store: Any) -> int:
    _schedules(store).delete(args.name)
    store.events.append("schedule.deleted", {"schedule": args.name}, source="cli")
    return 0


def cmd_enable(args: argparse.Namespace, store: Any) -> int:
    _schedules(store).set_enabled(args.name, True)
    return 0


def cmd_disable(args: argparse.Namespace, store: Any) -> int:
    _schedules(store).set_enabled(args.name, False)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    master = master_of(args)
    if master:
        from sloth_daemon.client import MasterClient

        with MasterClient(master) as client:
            run_ids = client.fire_schedule(args.name)
        for run_id in run_ids:
            print(run_id)
        return 0
    return with_store(_run_here)(args)


def _run_here(args: argparse.Namespace, store: Any) -> int:
    from .run_cmd import cmd_run as run_file

    schedules = _schedules(store)
    schedule = schedules.get(args.name)
    now = time.time()
    schedules.fired(schedule.name, now, [])
    store.events.append("schedule.triggered", {"schedule": schedule.name, "manual": True}, source="cli")
    run_args = argparse.Namespace(
        target=schedule.file,
        file=None,
        workflow=schedule.workflow or None,
        values=schedule.values_file,
        param=[],
        output="text",
        junit=None,
        plan=False,
        max_parallel=None,
        stack=None,
        show_output=False,
        master=None,
        detach=False,
        delegate_to=None,
        db=getattr(args, "db", None),
    )
    return run_file(run_args)
