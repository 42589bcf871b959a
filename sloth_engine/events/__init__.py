"""Events and hooks: every event is persisted, then delivered to the hooks that match it.

`EventBus` (bus.py) persists what it is given (or is told of events the run journal already
persisted) and hands each (event, hook) pair to a bounded queue served by a bounded pool of
worker threads; each worker runs hooks in its own sandboxed Lua runtimes (hook_runner.py) and
records every execution (sloth_engine.store.hooks). `bus_for_run(store)` is what a local `run` uses: None when
the store has no enabled hook, so a run without hooks pays one query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sloth_engine.events.bus import EventBus
from sloth_engine.store.hooks import HookDef, HookStore, matches

if TYPE_CHECKING:
    from sloth_engine.store import Store

__all__ = ["EventBus", "HookDef", "HookStore", "bus_for_run", "matches"]


def bus_for_run(store: Store, workers: int = 4) -> EventBus | None:
    """A bus for a local run when the store has an enabled hook, else None."""
    if store is None or not HookStore(store).any_enabled():
        return None
    return EventBus(store, workers=workers)
