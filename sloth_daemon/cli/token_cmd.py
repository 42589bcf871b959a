"""`token create|list|revoke|delete`: the API tokens a master started with --auth accepts.

Works on the store (--db / $SLOTH_DB), like `state`: whoever can write the master's database
administers its tokens; or through a master (--master / $SLOTH_MASTER) with an admin token
(sloth_daemon.gateway). A token is printed once, at creation; the store keeps a salted hash.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.durations import parse_duration
from sloth_engine.errors import UsageError

from .grammar import add_output, as_json
from .store_access import print_json, print_table, when


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    token = sub.add_parser("token", help="API tokens and their roles (viewer, operator, admin, agent)")
    tsub = token.add_subparsers(dest="token_command", metavar="COMMAND", required=True)
    create = tsub.add_parser("create", help="create a token and print it once", parents=parents)
    create.add_argument("name", help="who holds the token (shown in the audit trail)")
    create.add_argument(
        "--role", required=True, choices=("viewer", "operator", "admin", "agent"), help="what it may do"
    )
    create.add_argument("--expires", metavar="DURATION", help="e.g. 30d, 12h (default: never)")
    add_output(create)
    create.set_defaults(func=with_gateway(cmd_create))
    lst = tsub.add_parser("list", help="name, role, created, expires, revoked", parents=parents)
    add_output(lst)
    lst.set_defaults(func=with_gateway(cmd_list))
    revoke = tsub.add_parser("revoke", help="refuse a token from now on", parents=parents)
    revoke.add_argument("name")
    revoke.set_defaults(func=with_gateway(cmd_revoke))
    delete = tsub.add_parser(
        "delete", help="forget a token (agent/NAME: the name may join again); on the store", parents=parents
    )
    delete.add_argument("name")
    delete.set_defaults(func=with_gateway(cmd_delete))


def cmd_create(args: argparse.Namespace, gateway: Any) -> int:
    expires = None
    if args.expires:
        try:
            expires = parse_duration(args.expires)
        except ValueError as exc:
            raise UsageError(f"--expires: {exc}") from None
        if expires <= 0:
            raise UsageError("--expires must be positive")
    secret = gateway.tokens.create(args.name, args.role, expires)
    if as_json(args):
        print_json({"name": args.name, "role": args.role, "token": secret, "expires_s": expires})
    else:
        print(secret)
    print(f"token '{args.name}' ({args.role}) created; it is shown only this once", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    rows = gateway.tokens.list()
    if as_json(args):
        print_json([r.__dict__ for r in rows])
        return 0
    table = [
        (
            r.name,
            r.role,
            when(r.created_at),
            when(r.expires_at) if r.expires_at else "never",
            when(r.revoked_at) if r.revoked_at else "-",
        )
        for r in rows
    ]
    print_table(("NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED"), table)
    return 0


def cmd_revoke(args: argparse.Namespace, gateway: Any) -> int:
    gateway.tokens.revoke(args.name)
    print(f"token '{args.name}' revoked", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace, gateway: Any) -> int:
    gateway.tokens.delete(args.name)
    print(f"token '{args.name}' deleted", file=sys.stderr)
    return 0
