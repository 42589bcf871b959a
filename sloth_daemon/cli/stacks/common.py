"""What the stack commands share: the Stacks around a handler, confirmation, small renderers."""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from typing import Any

from sloth_daemon.gateway import with_gateway

from ..grammar import add_output, as_json, confirm
from ..store_access import print_json, when

__all__ = ["as_json", "confirm"]

StacksHandler = Callable[[argparse.Namespace, Any], int]
Command = Callable[[str, str, StacksHandler], argparse.ArgumentParser]


def with_stacks(handler: StacksHandler) -> Callable[[argparse.Namespace], int]:
    """The invocation's gateway (the store of `--db`, or the master of `--master`) and its
    stacks for the handler: the engine's Stacks, or RemoteStacks answering the same records."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, gateway: Any) -> int:
        return handler(args, gateway.stacks)

    return with_gateway(run)


def command_factory(sub: Any, parents: list[argparse.ArgumentParser]) -> Command:
    """`command(name, help, handler)`: a subcommand parser whose handler gets a Stacks."""

    def command(name: str, help: str, handler: StacksHandler) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, description=help, parents=parents)
        parser.set_defaults(func=with_stacks(handler))
        return parser

    return command


def add_json(parser: argparse.ArgumentParser) -> None:
    """`-o/--output text|json` (`--json` kept as a hidden alias)."""
    add_output(parser)


def show(value: Any, limit: int = 60) -> str:
    """A value on one line: strings as they are, the rest as JSON, cut at `limit`."""
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lock_line(info: Any) -> str:
    if info is None:
        return "unlocked"
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.store.stack_records import FOREVER

    text = f"locked by {info.holder} since {when(info.acquired_at)}"
    if info.reason:
        text += f" ({info.reason})"
    if info.expires_at < FOREVER - 1:
        text += f", expires {when(info.expires_at)}"
    return text


def emit_json(value: Any) -> int:
    print_json(value)
    return 0
