"""`master`: serve MasterService (runs, agents, dispatch) on the store."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sloth_engine.durations import parse_duration
from sloth_engine.errors import UsageError
from sloth_engine.home import sloth_home
from sloth_engine.store import open_store

from .grammar import add_output, as_json


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    master = sub.add_parser(
        "master",
        parents=parents,
        help="run the master: gRPC MasterService, agent registry, dispatcher",
        description="Serve MasterService on --listen (port 0 picks a free port; see --ready-file).",
    )
    master.add_argument(
        "action", nargs="?", choices=["status"], help="status: leader, standbys, epoch (with --master)"
    )
    master.add_argument("--listen", default="127.0.0.1:50053", metavar="HOST:PORT")
    master.add_argument(
        "--auth",
        action="store_true",
        help="every call needs a token (`token create`) whose role allows it",
    )
    master.add_argument(
        "--allow-plaintext-secrets",
        action="store_true",
        help="send granted secrets to agents over plain (non-TLS) connections off loopback too",
    )
    master.add_argument(
        "--cert-role",
        action="append",
        default=[],
        metavar="CN=ROLE",
        help="mutual TLS without --auth: the role of the client certificate with this common name"
        " (repeat; default: the certificate's OU when it names a role, else viewer)",
    )
    master.add_argument("--ha", action="store_true", help="one of several masters on one PostgreSQL --db")
    master.add_argument("--advertise", metavar="HOST:PORT", help="address other masters send clients to")
    master.add_argument("--lease-ttl", default="10s", metavar="DURATION", help="leader lease (default 10s)")
    add_output(master)  # status
    master.add_argument("--metrics-listen", metavar="[HOST]:PORT", help="serve Prometheus /metrics here")
    master.add_argument("--ready-file", metavar="PATH", help="write the bound HOST:PORT here once serving")
    master.add_argument(
        "--startup-grace",
        default="10s",
        metavar="DURATION",
        help="how long agents that were connected get to come back after a restart (default 10s)",
    )
    master.add_argument("--watch", metavar="DIR", help="keep DIR's workflows loaded, reload them on change")
    master.add_argument(
        "--watch-timeout",
        default="30s",
        metavar="DURATION",
        help="loading one watched file takes at most this; past it the file fails to load (30s)",
    )
    master.add_argument(
        "--no-local-tasks",
        action="store_true",
        help="refuse runs with tasks that would run on this master's host (no delegate_to, no default)",
    )
    master.add_argument("--hook-workers", type=int, default=4, metavar="N", help="hooks run at once (4)")
    master.add_argument("--event-queue", type=int, default=1000, metavar="N", help="events queued for hooks")
    master.set_defaults(func=cmd_master)


def cmd_master(args: argparse.Namespace) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.master.automation import AutomationConfig

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.master.cert_roles import parse_cert_roles

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.master.server import MasterConfig, serve

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.tls import TlsFiles

    if args.action == "status":
        return _status(args)
    try:
        grace = parse_duration(args.startup_grace)
        ttl = parse_duration(args.lease_ttl)
        watch_timeout = parse_duration(args.watch_timeout)
    except ValueError as exc:
        raise UsageError(f"--startup-grace/--lease-ttl/--watch-timeout: {exc}") from None
    config = MasterConfig(
        listen=args.listen,
        db=args.db,
        home=sloth_home(),
        metrics_listen=args.metrics_listen,
        ready_file=args.ready_file,
        startup_grace=grace,
        automation=AutomationConfig(
            args.watch, max(1, args.hook_workers), max(1, args.event_queue), max(0.1, watch_timeout)
        ),
        ha=args.ha,
        advertise=args.advertise,
        lease_ttl=max(0.3, ttl),
        auth=args.auth,
        tls=TlsFiles(args.tls_ca, args.tls_cert, args.tls_key),
        allow_plaintext_secrets=args.allow_plaintext_secrets,
        cert_roles=parse_cert_roles(args.cert_role),
        no_local_tasks=args.no_local_tasks,
    )
    store = open_store(args.db)
    try:
        asyncio.run(serve(config, store))
    finally:
        store.close()
    return 0


def _status(args: argparse.Namespace) -> int:
    import json
    import time

    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import MasterClient, master_address

    address = master_address(args.master)
    if not address:
        raise UsageError("master status needs --master HOST:PORT[,HOST:PORT...] (or $SLOTH_MASTER)")
    with MasterClient(address) as client:
        status = client.ha_status()
    if status is None:  # a master from before every master answered the status
        raise UsageError(f"{address} is a master without --ha that does not report a status")
    if as_json(args):
        print(json.dumps(status, indent=2))
        return 0
    leader = status["leader"]
    if not status.get("ha", True):
        print(f"leader:   {status['this']['address']} (this master: started without --ha)")
        print("standbys: none")
        return 0
    if leader is None:
        print(f"leader:   none (epoch {status['epoch']}: election in progress)")
    else:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(leader["since"]))
        print(f"leader:   {leader['address']} (node {leader['node']})")
        print(f"epoch:    {leader['epoch']} since {since}")
    for node in status["standbys"]:
        print(f"standby:  {node['address']} (node {node['node']})")
    return 0
