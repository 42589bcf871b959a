"""`sysadmin health|backup|restore|logs|init-store`: looking after a Sloth Runner installation.

- `init-store`: create the schema in an empty database (or bring an older one up to date).

- `health`: the store opens and takes a write (rolled back), the disks of the store and of
  $SLOTH_HOME have room, and with `--master` (or $SLOTH_MASTER) the master answers its health
  check and its agents are listed; runs whose process died are marked abandoned and reported,
  with unfinished runs older than 6 hours (stuck). Exit 1 when a check failed.
- `backup --out FILE` / `restore FILE --yes`: a consistent copy of the store taken while it is
  in use (sloth_engine.store.backup), and its way back.
- `logs [--follow]`: the store's events and captured task output, oldest first, then (with
  --follow) whatever is added, as `tail -f` does.

`health` and `logs` with --master (or $SLOTH_MASTER) ask the master about its own store and
disks (sloth_daemon.gateway): nothing is opened here. `backup` and `restore` are local only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.errors import SlothError, StoreError, UsageError
from sloth_engine.home import sloth_home
from sloth_engine.store import LATEST, open_store

from .grammar import add_output, add_output_or_file, add_yes, as_json, confirm, output_and_file
from .store_access import fail, print_json, print_table, when, with_store

if TYPE_CHECKING:
    from sloth_engine.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL_S = 0.5
MB = 1024 * 1024


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("sysadmin", help="health checks, backups and logs of this installation")
    asub = admin.add_subparsers(dest="sysadmin_command", metavar="COMMAND", required=True)
    health = asub.add_parser("health", help="store, disk space, master and agents", parents=parents)
    health.add_argument(
        "--min-free-mb", type=int, default=500, metavar="MB", help="less free disk is a failure (500)"
    )
    health.add_argument("--integrity", action="store_true", help="also run SQLite's integrity check")
    add_output(health)
    health.set_defaults(func=cmd_health)
    backup = asub.add_parser("backup", help="a consistent copy of the store, taken online", parents=parents)
    add_output_or_file(
        backup, ("text", "json"), "text", ("--out",), "where the copy goes", file_required=True
    )
    backup.set_defaults(func=with_store(cmd_backup))
    restore = asub.add_parser("restore", help="replace the store's content with a backup", parents=parents)
    restore.add_argument("file", metavar="FILE")
    add_yes(restore, "yes, replace everything in the store")
    restore.set_defaults(func=with_store(cmd_restore))
    init = asub.add_parser(
        "init-store", help="create (or bring up to date) the store's schema", parents=parents
    )
    init.set_defaults(func=cmd_init_store)
    logs = asub.add_parser("logs", help="events and task output of the store (tail -f)", parents=parents)
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing what is added")
    logs.add_argument("--lines", "-n", type=int, default=50, metavar="N", help="start with the last N (50)")
    logs.add_argument("--run", metavar="RUN_ID", help="only this run")
    logs.add_argument("--only", choices=("events", "output"), help="only events, or only task output")
    add_output(logs)  # json: one object per line
    logs.set_defaults(func=with_gateway(cmd_logs))


def cmd_init_store(args: argparse.Namespace) -> int:
    """Create the schema in an empty database (or one whose schema was dropped), or migrate it."""

    local_only(args, "sysadmin init-store")
    with open_store(getattr(args, "db", None)) as store:
        print(f"store {store.url}: schema v{store.schema_version()} ready (this Sloth Runner: v{LATEST})")
    return EXIT_OK


def local_only(args: argparse.Namespace, what: str) -> None:
    """Refuse an explicit --master: this command works on the store of --db, here."""
    if getattr(args, "master", None):
        raise UsageError(f"{what} works on the local store (--db / $SLOTH_DB), not through a master")


# ---- health ------------------------------------------------------------------------------------

Check = tuple[str, str, str]
"""(name, 'ok' | 'warn' | 'fail' | 'skip', detail)"""


def cmd_health(args: argparse.Namespace) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.gateway import open_gateway

    try:
        gateway = open_gateway(args)
    except SlothError as exc:  # the store does not open: that is the first finding
        checks = [("store", "fail", str(exc)), *_disks(None, args.min_free_mb), *_master(None)]
    else:
        try:
            checks = gateway.admin.health(args.min_free_mb, args.integrity)
        finally:
            gateway.close()
    if as_json(args):
        print_json([{"check": c, "status": s, "detail": d} for c, s, d in checks])
    else:
        print_table(("CHECK", "STATUS", "DETAIL"), checks)
    return EXIT_FAILED if any(status == "fail" for _, status, _ in checks) else EXIT_OK


def _runs(store: Store) -> list[Check]:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from .run_health import run_checks

    try:
        return run_checks(store)
    except SlothError as exc:
        return [("runs", "fail", str(exc))]


def _writable(store: Store) -> Check:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.store.backup import try_write

    try:
        try_write(store)
    except StoreError as exc:
        return ("store writable", "fail", str(exc))
    return ("store writable", "ok", "a write transaction succeeded (rolled back)")


def _integrity(store: Store) -> Check:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.store.backup import integrity

    found = integrity(store)
    if found == "n/a":
        return ("store integrity", "skip", "PostgreSQL checks itself")
    return ("store integrity", "ok" if found == "ok" else "fail", found)


def _disks(store: Store | None, min_free_mb: int) -> list[Check]:
    places = {"disk (SLOTH_HOME)": sloth_home()}
    path = store.path if store is not None else None
    if path and Path(path).parent.resolve() != places["disk (SLOTH_HOME)"].resolve():
        places["disk (store)"] = Path(path).parent
    checks: list[Check] = []
    for name, folder in places.items():
        existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
        try:
            usage = shutil.disk_usage(existing)
        except OSError as exc:
            checks.append((name, "fail", f"{folder}: {exc.strerror}"))
            continue
        free_mb = usage.free // MB
        later = "" if existing == folder else " (not created yet)"
        detail = f"{folder}{later}: {free_mb} MB free of {usage.total // MB} MB"
        status = "ok" if free_mb >= min_free_mb else "fail"
        if status == "ok" and usage.free < usage.total * 0.1:
            status = "warn"
        checks.append((name, status, detail))
    return checks


def _master(address: str | None, client: Any = None) -> list[Check]:
    if not address:
        return [("master", "skip", "no master given (--master or $SLOTH_MASTER)")]

    try:
        if client is None:
            # lazy: loaded when this command runs, not for --help (it loads every command module)
            from sloth_daemon.client import MasterClient

            with MasterClient(address, timeout=5.0) as own:
                serving, agents = own.health(), own.list_agents()
        else:
            serving, agents = client.health(), client.list_agents()
    except SlothError as exc:
        return [("master", "fail", f"{address}: {exc}")]
    checks: list[Check] = [("master", "ok" if serving == "SERVING" else "fail", f"{address}: {serving}")]
    counts: dict[str, int] = {}
    for agent in agents:
        counts[agent["status"]] = counts.get(agent["status"], 0) + 1
    up = counts.get("connected", 0)
    detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no agents registered"
    checks.append(("agents", "ok" if up or not agents else "warn", detail))
    return checks


# ---- backup and restore -------------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace, store: Store) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.store.backup import backup

    local_only(args, "sysadmin backup")
    _form, out = output_and_file(args)
    started = time.monotonic()
    info = backup(store, str(out))
    took = time.monotonic() - started
    if as_json(args):
        print_json({**info._asdict(), "store": store.url, "seconds": round(took, 3)})
        return EXIT_OK
    print(
        f"backed up {store.url} to {info.path}: {info.size} bytes, schema v{info.schema_version}, "
        f"integrity {info.integrity}, {took:.2f}s"
    )
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, store: Store) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.store.backup import restore

    local_only(args, "sysadmin restore")
    question = f"Replace everything in {store.url} with {args.file}?"
    if not confirm(question, args.yes):
        why = f"restore replaces everything in {store.url} with {args.file}: add --yes"
        return fail(why, EXIT_USAGE if not sys.stdin.isatty() else EXIT_FAILED)
    info = restore(store, args.file)
    print(
        f"restored {store.url} from {info.path} (schema v{info.schema_version}, integrity {info.integrity})"
    )
    return EXIT_OK


# ---- logs ----------------------------------------------------------------------------------------


def _line(row: dict[str, Any]) -> str:
    stamp = when(row["ts"])
    if row["source"] == "output":
        marker = "! " if row["stream"] == "stderr" else ""
        return f"{stamp} [{row['run_id']} {row['task']}#{row['attempt']}] {marker}{row['line']}"
    data = row.get("data") or ""
    text = data if len(data) <= 160 else data[:157] + "..."
    run = f" run={row['run_id']}" if row["run_id"] else ""
    return f"{stamp} {row['severity'].upper():5} {row['type']}{run} {text}"


def _emit(rows: list[dict[str, Any]], as_json: bool) -> None:
    for row in rows:
        if as_json:
            if row["source"] == "events" and isinstance(row.get("data"), str):
                row = {**row, "data": json.loads(row["data"] or "{}")}
            print(json.dumps(row, ensure_ascii=False, default=str))
        else:
            print(_line(row))
    sys.stdout.flush()


def cmd_logs(args: argparse.Namespace, gateway: Any) -> int:
    tail = gateway.admin.tail(args.run, args.only)
    _emit(tail.read(newest=max(args.lines, 0)), as_json(args))
    if not args.follow:
        return EXIT_OK
    # Ctrl-C or SIGTERM end the follow at the next poll, wherever the signal lands (a
    # KeyboardInterrupt raised inside a store read could be lost; a flag cannot).
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(POLL_S):
        _emit(tail.read(), as_json(args))
    return EXIT_OK
