"""`scheduler add|list|delete|enable|disable|run`: workflow files fired by cron expressions.

Schedules live in the store; a running master fires them. Every command works on the store, or
with --master ($SLOTH_MASTER) through that master (sloth_daemon.gateway): `add` then sends the
workflow file's text (and the values file's), and the master fires its copy. `scheduler run
NAME` fires one now: on the master, else here, as `run` would.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sloth_daemon.gateway import with_gateway

from .grammar import add_output, as_json
from .store_access import print_json, print_table, until, when


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    sched = sub.add_parser("scheduler", help="fire workflows on cron schedules (run by the master)")
    ssub = sched.add_subparsers(dest="scheduler_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Any, with_name: bool = True) -> argparse.ArgumentParser:
        parser = ssub.add_parser(name, help=help, parents=parents)
        parser.set_defaults(func=with_gateway(handler))
        if with_name:
            parser.add_argument("name")
        return parser

    add = command("add", "schedule a workflow file", cmd_add)
    add.add_argument("--cron", required=True, help='"*/5 * * * *", or 6 fields with seconds first')
    add.add_argument("--file", "-f", required=True, help="the workflow file")
    add.add_argument("--workflow", "-w", default="", help="only this workflow of the file")
    add.add_argument("--values", "-v", help="YAML values file, read at each fire")
    add.add_argument("--tz", default="UTC", help="time zone of the cron fields (default UTC)")
    add.add_argument("--overlap", choices=("skip", "queue", "allow"), default="skip")
    add.add_argument("--catch-up", choices=("once", "none"), default="none", help="after a master was down")
    add.add_argument("--replace", action="store_true", help="replace a schedule of that name")
    lst = command("list", "schedules with their next fire time", cmd_list, with_name=False)
    add_output(lst)
    command("delete", "remove a schedule", cmd_delete)
    command("enable", "fire the schedule again (from now on)", cmd_enable)
    command("disable", "stop firing the schedule (kept)", cmd_disable)
    fire = command("run", "fire a schedule now (on the master with --master, else here)", cmd_run)
    add_output(fire)


def cmd_add(args: argparse.Namespace, gateway: Any) -> int:
    schedule = gateway.schedules.add(
        args.name, args.cron, args.file, args.workflow, args.values, args.tz, args.overlap,
        args.catch_up, args.replace,
    )  # fmt: skip
    print(f"schedule {schedule.name}: next at {when(schedule.next_fire_at)}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    schedules = gateway.schedules.list()
    if as_json(args):
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


def cmd_delete(args: argparse.Namespace, gateway: Any) -> int:
    gateway.schedules.delete(args.name)
    return 0


def cmd_enable(args: argparse.Namespace, gateway: Any) -> int:
    gateway.schedules.set_enabled(args.name, True)
    return 0


def cmd_disable(args: argparse.Namespace, gateway: Any) -> int:
    gateway.schedules.set_enabled(args.name, False)
    return 0


def cmd_run(args: argparse.Namespace, gateway: Any) -> int:
    fired = gateway.schedules.fire(args.name)
    if as_json(args):
        print_json({"schedule": args.name, "run_ids": list(fired.run_ids), "exit_code": fired.exit_code})
        return fired.exit_code
    for run_id in fired.run_ids:
        print(run_id)
    return fired.exit_code
