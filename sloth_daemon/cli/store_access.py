"""What the store-backed commands (`state`, `runs`) share: the store around a handler, errors as
exit codes, and tables that are rich on a terminal and plain aligned text in a pipe."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from sloth_engine.durations import format_duration
from sloth_engine.errors import SlothError
from sloth_engine.store import open_store

from .grammar import EXIT_FAILED, EXIT_USAGE, exit_code_of

__all__ = ["EXIT_FAILED", "EXIT_USAGE"]

Handler = Callable[[argparse.Namespace, Any], int]


def with_store(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Open the store named by `--db` for the handler, close it after; errors become messages."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            store = open_store(getattr(args, "db", None))
        except SlothError as exc:
            return fail(str(exc), exit_code_of(exc))
        try:
            return handler(args, store)
        except SlothError as exc:
            return fail(str(exc), exit_code_of(exc))
        finally:
            store.close()

    return run


def master_of(args: argparse.Namespace) -> str | None:
    """`--master`, else $SLOTH_MASTER, else None (sloth_daemon.client.master_address without
    importing grpc, which a local command does not need)."""
    return getattr(args, "master", None) or os.environ.get("SLOTH_MASTER") or None


def fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A rich table when stdout is a terminal, else aligned columns (header line, no borders)."""
    cells = [[_cell(v) for v in row] for row in rows]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(*headers, title=title, title_justify="left")
        for row in cells:
            table.add_row(*(escape(c) for c in row))
        Console().print(table)
        return
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for line in [list(headers), *cells]:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())


def when(ts: float | None) -> str:
    """Local time of an epoch timestamp, '-' for none."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def until(ts: float | None, now: float | None = None) -> str:
    """'in 25s' / 'expired' / 'never'."""
    if ts is None:
        return "never"
    left = ts - (time.time() if now is None else now)
    return f"in {format_duration(left)}" if left > 0 else "expired"


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
