"""One gateway per command: local (the store) or remote (a master), chosen once.

    @with_gateway
    def cmd_get(args, gateway: Gateway) -> int: ...

`open_gateway(args)` looks at `--master` / $SLOTH_MASTER once: given, a RemoteGateway on a
MasterClient (no store is opened, none needs to exist); else a LocalGateway on the store of
`--db` / $SLOTH_DB / $SLOTH_HOME. Project errors become `error: ...` and exit codes as the
store-backed commands always did (sloth_daemon.cli.grammar: UsageError 2, the master unreachable 4,
any other 1).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import SlothError

if TYPE_CHECKING:
    from .api import Gateway

GatewayHandler = Callable[[argparse.Namespace, Any], int]


def open_gateway(args: argparse.Namespace) -> Gateway:
    # lazy: the console imports this package: no store, CLI or gRPC client for it
    from sloth_daemon.cli.store_access import master_of

    master = master_of(args)
    if master:
        # lazy: the console imports this package: no store, CLI or gRPC client for it
        from sloth_daemon.client import MasterClient

        # lazy: the console imports this package: no store, CLI or gRPC client for it
        from .remote import RemoteGateway

        return RemoteGateway(MasterClient(master))
    # lazy: the console imports this package: no store, CLI or gRPC client for it
    from sloth_engine.store import open_store

    # lazy: the console imports this package: no store, CLI or gRPC client for it
    from .local import LocalGateway

    return LocalGateway(open_store(getattr(args, "db", None)), db=getattr(args, "db", None))


def with_gateway(
    handler: GatewayHandler, opener: Callable[[argparse.Namespace], Gateway] = open_gateway
) -> Callable[[argparse.Namespace], int]:
    """The handler with the invocation's gateway (from `opener`), closed after; errors become
    messages."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        # lazy: the console imports this package: no store, CLI or gRPC client for it
        from sloth_daemon.cli.grammar import exit_code_of

        # lazy: the console imports this package: no store, CLI or gRPC client for it
        from sloth_daemon.cli.store_access import fail

        try:
            gateway = opener(args)
        except SlothError as exc:
            return fail(str(exc), exit_code_of(exc))
        try:
            return handler(args, gateway)
        except SlothError as exc:
            return fail(str(exc), exit_code_of(exc))
        finally:
            gateway.close()

    return run


__all__ = ["open_gateway", "with_gateway"]
