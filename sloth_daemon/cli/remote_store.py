"""`runs ... --master`: the run-history commands read a master through the client instead of the
local store. RemoteStore offers the part of the store's API those commands use."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from .store_access import with_store

Handler = Callable[[argparse.Namespace, Any], int]


class RemoteRuns:
    def __init__(self, client: Any) -> None:
        self.client = client

    def list_runs(
        self, workflow: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[dict]:
        return self.client.list_runs(workflow, status, limit)

    def get_run(self, run_id: str, with_tasks: bool = True) -> dict | None:
        from sloth_daemon.errors import NotFound

        try:
            return self.client.get_run(run_id)
        except NotFound:
            return None

    def get_logs(self, run_id: str, task: str | None = None) -> list[dict]:
        return self.client.run_logs(run_id, task)


class RemoteStore:
    def __init__(self, client: Any) -> None:
        self.runs = RemoteRuns(client)


def add_master_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", metavar="HOST:PORT", help="ask this master instead of the local store")


def with_master_or_store(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """The handler on the master given by --master / $SLOTH_MASTER, else on the local store."""
    local = with_store(handler)

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from sloth_daemon.client import MasterClient, master_address

        master = master_address(getattr(args, "master", None))
        if not master:
            return local(args)
        with MasterClient(master) as client:
            return handler(args, RemoteStore(client))

    return run
