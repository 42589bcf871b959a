"""Stacks: named deployment targets whose runs, resources, outputs and history are tracked.

`Stacks(store)` gathers the parts, each on the store's tables:

- `catalog`   the `stacks` table: create, list, delete, outputs, run bookkeeping, events;
- `resources` what tasks register through the Lua `stack` module;
- `locks`     stack locks (leases with fencing tokens in `stack_locks`);
- `snapshots` versions v1, v2, ... of resources and outputs (`stack_versions`);
- `drift`     actual state (probes) against recorded properties (`drift_detections`);
- `deps`      dependencies between stacks (`stack_dependencies`).

A run joins in through `lifecycle.StackLifecycle`, given to the engine as `RunRequest.lifecycle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sloth_engine.stacks.deps import StackDeps
from sloth_engine.stacks.drift import DriftDetector
from sloth_engine.stacks.locks import StackLocks
from sloth_engine.store.resources import ResourceTable
from sloth_engine.store.snapshots import Snapshots
from sloth_engine.store.stacks import StackCatalog

if TYPE_CHECKING:
    from sloth_engine.store import Store

__all__ = ["Stacks"]


class Stacks:
    """Every stack operation on one open store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.catalog = StackCatalog(store, clock)
        self.resources = ResourceTable(store, clock)
        self.locks = StackLocks(self.catalog, clock)
        self.snapshots = Snapshots(self.catalog, self.resources, clock)
        self.drift = DriftDetector(self.catalog, self.resources, clock)
        self.deps = StackDeps(self.catalog, clock)
