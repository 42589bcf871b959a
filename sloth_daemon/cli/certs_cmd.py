"""`certs init DIR`: a CA and master, agent and client certificates for TLS and mutual TLS."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sloth_engine.errors import UsageError


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    certs = sub.add_parser("certs", help="certificates for TLS / mutual TLS (a quick start)")
    csub = certs.add_subparsers(dest="certs_command", metavar="COMMAND", required=True)
    init = csub.add_parser(
        "init",
        help="create ca, master, agent and client certificates and keys in DIR",
        description="Writes ca.crt ca.key master.crt master.key agent.crt agent.key client.crt "
        "client.key. The master's certificate names the --host names, localhost and 127.0.0.1.",
    )
    init.add_argument("dir", help="folder to write into (created if missing)")
    init.add_argument(
        "--host", action="append", default=[], metavar="NAME", help="master DNS name or IP (repeat)"
    )
    init.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="NAME",
        help="also write agent-NAME.crt/.key (CN=NAME, OU=agent) for the agent NAME (repeat)",
    )
    init.add_argument("--days", type=int, default=825, help="validity of the leaf certificates (825)")
    init.add_argument(
        "--force", "--yes", "-y", dest="force", action="store_true", help="replace existing files"
    )
    init.add_argument("--auto-approve", dest="force", action="store_true", help=argparse.SUPPRESS)
    init.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.certs import init_certs

    try:
        written = init_certs(Path(args.dir), args.host, args.days, args.force, args.agent)
    except OSError as exc:
        where = exc.filename or args.dir
        raise UsageError(f"certs init: cannot write into {where}: {exc.strerror or exc}") from None
    for path in written:
        print(path)
    return 0
