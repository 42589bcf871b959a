"""`master`: serve MasterService (runs, agents, dispatch) on the store."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sloth_engine.durations import parse_duration
from sloth_engine.errors import UsageError


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    master = sub.add_parser(
        "master",
        parents=parents,
        help="run the master: gRPC MasterService, agent registry, dispatcher",
        description="Serve MasterService on --listen (port 0 picks a free port; see --ready-file).",
    )
    master.add_argument("--listen", default="127.0.0.1:50053", metavar="HOST:PORT")
    master.add_argument("--metrics-listen", metavar="[HOST]:PORT", help="serve Prometheus /metrics here")
    master.add_argument("--ready-file", metavar="PATH", help="write the bound HOST:PORT here once serving")
    master.add_argument(
        "--startup-grace",
        default="10s",
        metavar="DURATION",
        help="how long agents that were connected get to come back after a restart (default 10s)",
    )
    master.add_argument("--watch", metavar="DIR", help="keep DIR's workflows loaded, reload them on change")
    master.add_argument("--hook-workers", type=int, default=4, metavar="N", help="hooks run at once (4)")
    master.add_argument("--event-queue", type=int, default=1000, metavar="N", help="events queued for hooks")
    master.set_defaults(func=cmd_master)


def cmd_master(args: argparse.Namespace) -> int:
    from sloth_daemon.master.automation import AutomationConfig
    from sloth_daemon.master.server import MasterConfig, serve
    from sloth_engine.run import sloth_home
    from sloth_engine.store import open_store

    try:
        grace = parse_duration(args.startup_grace)
    except ValueError as exc:
        raise UsageError(f"--startup-grace: {exc}") from None
    config = MasterConfig(
        listen=args.listen,
        db=args.db,
        home=sloth_home(),
        metrics_listen=args.metrics_listen,
        ready_file=args.ready_file,
        startup_grace=grace,
        automation=AutomationConfig(args.watch, max(1, args.hook_workers), max(1, args.event_queue)),
    )
    store = open_store(args.db)
    try:
        asyncio.run(serve(config, store))
    finally:
        store.close()
    return 0
