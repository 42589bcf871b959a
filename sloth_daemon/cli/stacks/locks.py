"""`stack lock acquire|status|release|force-release`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sloth_engine.errors import StackLocked

from ..state_cmd import default_holder
from ..store_access import fail, when
from .common import Command, add_json, as_json, emit_json, lock_line


def register(command: Command) -> None:
    acquire = command("acquire", "take a stack's lock (fails at once when it is held)", cmd_acquire)
    acquire.add_argument("name")
    acquire.add_argument("--reason", default="", help="why: shown to whoever finds it locked")
    acquire.add_argument("--locked-by", default=None, help="who holds it (default: USER@HOST)")
    acquire.add_argument("--ttl", default=None, help="release by itself after this long: 30m, 1h")
    acquire.add_argument("--wait", default=None, help="wait this long for a held lock: 5m")
    add_json(acquire)
    status = command("status", "who holds a stack's lock, why and since when", cmd_status)
    status.add_argument("name")
    add_json(status)
    release = command("release", "release a stack's lock you hold", cmd_release)
    release.add_argument("name")
    release.add_argument(
        "--locked-by", "--unlocked-by", dest="locked_by", default=None, help="the holder (default: USER@HOST)"
    )
    force = command("force-release", "release a stack's lock whoever holds it", cmd_force_release)
    force.add_argument("name")
    force.add_argument("--reason", default="", help="why (kept in the event trail)")


def cmd_acquire(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    holder = args.locked_by or default_holder()
    try:
        grant = stacks.locks.acquire(args.name, holder, args.reason, args.ttl, args.wait)
    except StackLocked as exc:
        return fail(str(exc))
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.store.stack_records import FOREVER

    if as_json(args):
        expires = None if grant.expires_at >= FOREVER - 1 else grant.expires_at
        return emit_json({"stack": args.name, "holder": holder, "token": grant.token, "expires_at": expires})
    until = "until released" if grant.expires_at >= FOREVER - 1 else f"until {when(grant.expires_at)}"
    print(f"locked stack '{args.name}' for {holder} {until} (token {grant.token})")
    return 0


def cmd_status(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    info = stacks.locks.status(args.name)
    if as_json(args):
        # lazy: loaded when this command runs, not for --help (it loads every command module)
        from sloth_engine.stacks.locks import lock_dict

        return emit_json({"stack": args.name, "locked": info is not None, "lock": lock_dict(info)})
    print(f"stack '{args.name}': {lock_line(info)}")
    return 0


def cmd_release(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    holder = args.locked_by or default_holder()
    info = stacks.locks.status(args.name)
    if info is None:
        return fail(f"stack '{args.name}' is not locked")
    if not stacks.locks.release(args.name, holder):
        return fail(
            f"stack '{args.name}' is locked by {info.holder}, not {holder} "
            f"(use --locked-by {info.holder}, or force-release)"
        )
    print(f"released stack '{args.name}'")
    return 0


def cmd_force_release(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    released = stacks.locks.force_release(args.name, default_holder(), args.reason)
    if released is None:
        print(f"stack '{args.name}' was not locked", file=sys.stderr)
        return 0
    print(f"force-released stack '{args.name}' (was {lock_line(released)})")
    return 0
