"""`state get|set|delete|list|lock|unlock|locks`: the workflow state and locks, in the store or
through a master (--master / $SLOTH_MASTER): sloth_daemon.gateway."""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
from typing import Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.errors import LockHeld

from .grammar import add_output, as_json
from .store_access import fail, print_json, print_table, until, when

DEFAULT_NAMESPACE = "default"


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    state = sub.add_parser("state", help="read and change workflow state and locks")
    ssub = state.add_subparsers(dest="state_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser = ssub.add_parser(name, help=help, parents=parents)
        parser.set_defaults(func=with_gateway(handler))
        return parser

    get = command("get", "print a value as JSON", cmd_get)
    get.add_argument("key")
    _namespace(get)
    get.add_argument("--raw", action="store_true", help="print a string value without quotes (-o text)")
    add_output(get, default="json")
    put = command("set", "store a value (JSON when VALUE is valid JSON, else a string)", cmd_set)
    put.add_argument("key")
    put.add_argument("value")
    _namespace(put)
    put.add_argument("--ttl", help="expire after this long: 30s, 5m, 1h")
    delete = command("delete", "remove a key", cmd_delete)
    delete.add_argument("key")
    _namespace(delete)
    lst = command("list", "keys with their values", cmd_list)
    lst.add_argument("--prefix", default="", help="only keys starting with this")
    _namespace(lst)
    add_output(lst)
    lock = command("lock", "take a lock (a lease) and print its fencing token", cmd_lock)
    lock.add_argument("name")
    lock.add_argument("--ttl", required=True, help="lease length: 30s, 5m")
    lock.add_argument("--holder", default=None, help="who holds it (default: USER@HOST)")
    lock.add_argument("--wait", default="0", help="wait this long for a held lock: 10s")
    lock.add_argument("--reason", default="", help="shown to whoever finds it held")
    add_output(lock)
    unlock = command("unlock", "release a lock", cmd_unlock)
    unlock.add_argument("name")
    unlock.add_argument("--holder", default=None, help="release as this holder (default: USER@HOST)")
    unlock.add_argument("--force", action="store_true", help="release whoever holds it")
    locks = command("locks", "held locks: holder, since, expiry", cmd_locks)
    add_output(locks)


def _namespace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace", "-n", default=DEFAULT_NAMESPACE, help="state namespace (a workflow's stack)"
    )


def default_holder() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers): still a usable holder
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def parse_value(text: str) -> Any:
    """VALUE as JSON when it parses, else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_get(args: argparse.Namespace, gateway: Any) -> int:
    found = gateway.state.get(args.namespace, args.key)
    if not found.found:
        return fail(f"no key '{args.key}' in namespace '{args.namespace}'")
    value = found.value
    if (args.raw or not as_json(args)) and isinstance(value, str):
        print(value)
    else:
        print(json.dumps(value, ensure_ascii=False, indent=2 if isinstance(value, (dict, list)) else None))
    return 0


def cmd_set(args: argparse.Namespace, gateway: Any) -> int:
    value = parse_value(args.value)
    gateway.state.set(args.namespace, args.key, value, args.ttl, f"cli:{default_holder()}")
    return 0


def cmd_delete(args: argparse.Namespace, gateway: Any) -> int:
    if not gateway.state.delete(args.namespace, args.key):
        return fail(f"no key '{args.key}' in namespace '{args.namespace}'")
    return 0


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    entries = gateway.state.entries(args.namespace, args.prefix)
    if as_json(args):
        print_json(
            [
                {
                    "key": e.key,
                    "value": e.value,
                    "type": e.value_type,
                    "version": e.version,
                    "expires_at": e.expires_at,
                    "owner": e.owner,
                    "updated_at": e.updated_at,
                }
                for e in entries
            ]
        )
        return 0
    if not entries:
        print(f"no keys in namespace '{args.namespace}'", file=sys.stderr)
        return 0
    rows = [(e.key, e.value_type, e.value, until(e.expires_at), when(e.updated_at)) for e in entries]
    print_table(("KEY", "TYPE", "VALUE", "EXPIRES", "UPDATED"), rows)
    return 0


def cmd_lock(args: argparse.Namespace, gateway: Any) -> int:
    holder = args.holder or default_holder()
    try:
        grant = gateway.state.lock(args.name, holder, args.ttl, args.wait, args.reason)
    except LockHeld as exc:
        since = f" since {when(exc.since)}" if exc.since else ""
        return fail(f"{exc}{since}")
    if as_json(args):
        print_json(
            {"name": grant.name, "holder": holder, "token": grant.token, "expires_at": grant.expires_at}
        )
        return 0
    print(grant.token)
    print(f"locked '{grant.name}' for {holder} until {when(grant.expires_at)}", file=sys.stderr)
    return 0


def cmd_unlock(args: argparse.Namespace, gateway: Any) -> int:
    holder = args.holder or default_holder()
    done = gateway.state.unlock(args.name, holder, args.force)
    info = done.held
    if done.released:
        return 0
    if info is None:
        return fail(f"lock '{args.name}' is not held")
    return fail(f"lock '{args.name}' is held by {info.holder}, not {holder} (use --force to release it)")


def cmd_locks(args: argparse.Namespace, gateway: Any) -> int:
    locks = gateway.state.locks()
    if as_json(args):
        print_json([lock._asdict() for lock in locks])
        return 0
    if not locks:
        print("no locks held", file=sys.stderr)
        return 0
    rows = [
        (i.name, i.holder, i.token, when(i.acquired_at), until(i.expires_at), i.reason or "-") for i in locks
    ]
    print_table(("NAME", "HOLDER", "TOKEN", "SINCE", "EXPIRES", "REASON"), rows)
    return 0
