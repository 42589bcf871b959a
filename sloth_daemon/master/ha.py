"""`master --ha`: wiring of the lease keeper, the leader gate and the step down into a master.

A master that loses its lease restarts itself in place (exec of the same command line) and
comes back as a standby: nothing of its in-memory state (runs in flight, agent sessions) may
go on, and a fresh process is the simplest way to be sure of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from sloth_daemon.master.ha_gate import LeaderGate
from sloth_daemon.master.lease import LeaderElection
from sloth_engine.errors import UsageError
from sloth_engine.store.leases import LeaseRows

log = logging.getLogger(__name__)


def keeper_of(master: Any) -> tuple[LeaderElection, list[Any]]:
    """The lease keeper of `master` and the server interceptors that go with it."""
    config = master.config
    if master.store.kind != "postgresql":
        raise UsageError("--ha needs a PostgreSQL store (--db postgresql://...)")

    async def elected(epoch: int) -> None:
        await master.resume()
        await master.lead()

    keeper = LeaderElection(
        LeaseRows(master.store),
        master.master_id,
        config.advertise or config.listen,
        config.lease_ttl,
        on_elected=elected,
        on_deposed=_restart_as_standby,
    )
    master.dispatcher.may_dispatch = keeper.may_dispatch
    return keeper, [LeaderGate(keeper)]


def campaign(master: Any, server: Any) -> None:
    """Start competing for the lease (the server already answers as a standby)."""
    if not master.config.advertise:
        master.keeper.address = master.address
    master._background.append(asyncio.create_task(master.keeper.run()))


def _restart_as_standby(why: str) -> None:
    log.error("stepping down (%s): restarting as a standby", why)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)
    except OSError as exc:  # cannot exec: exit, a supervisor may restart us
        log.error("cannot restart (%s); exiting", exc)
        os._exit(75)
