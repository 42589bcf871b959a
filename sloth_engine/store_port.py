"""The store as the Lua `state` and `stack` modules reach it: one typed port, two places.

A local run (and the master) hands the modules its open store (`local_port`); an agent, which
keeps no store, hands them a port that forwards every call to the master
(sloth_daemon.agent.store_client). The modules call the same methods either way, so a task
gets the same results, the same errors and the same events wherever it runs. The engine never
sees the network: a remote port is given to it like any other collaborator.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from sloth_engine.store import Store
from sloth_engine.store.locks import LockGrant, StopCheck
from sloth_engine.store.resources import Origin, ResourceSpec, ResourceTable
from sloth_engine.store.stack_records import RegisterOutcome, ResourceRecord
from sloth_engine.store.stacks import StackCatalog


class Lease(Protocol):
    """A lock kept alive (renewed every ttl/3) until `release()`."""

    @property
    def finished(self) -> bool: ...

    def release(self) -> bool: ...


class StatePort(Protocol):
    """Typed key/value state and leases (sloth_engine.store.state.StateStore is one)."""

    def get(self, namespace: str, key: str, default: Any = None) -> Any: ...

    def exists(self, namespace: str, key: str) -> bool: ...

    def delete(self, namespace: str, key: str) -> bool: ...

    def keys(self, namespace: str, prefix: str = "") -> list[str]: ...

    def increment(self, namespace: str, key: str, delta: int | float = 1, owner: str = "") -> int | float: ...

    def set(
        self, namespace: str, key: str, value: Any, ttl: float | str | None = None, owner: str = ""
    ) -> None: ...

    def compare_and_swap(
        self,
        namespace: str,
        key: str,
        expected: Any,
        new: Any,
        ttl: float | str | None = None,
        owner: str = "",
    ) -> bool: ...

    def lock(
        self,
        name: str,
        holder: str,
        ttl: float | str,
        wait: float | str = 0.0,
        reason: str = "",
        stop: StopCheck = None,
    ) -> LockGrant: ...

    def renew(self, name: str, token: int, ttl: float | str) -> LockGrant | None: ...

    def unlock(self, name: str, owner: str | int | None = None, force: bool = False) -> bool: ...

    def keep(self, grant: LockGrant, ttl: float | str, stop: StopCheck = None) -> Lease: ...


class StackPort(Protocol):
    """A stack's resources and outputs, as the `stack` module uses them."""

    def register(
        self, stack: str, spec: ResourceSpec, origin: Origin
    ) -> tuple[RegisterOutcome, ResourceRecord]: ...

    def update(self, stack: str, type_: str, name: str, changes: dict[str, Any]) -> ResourceRecord: ...

    def get(self, stack: str, type_: str, name: str) -> ResourceRecord | None: ...

    def find(self, stack: str, name: str) -> ResourceRecord | None: ...

    def delete(self, stack: str, type_: str, name: str) -> bool: ...

    def set_output(self, stack: str, key: str, value: Any) -> None: ...

    def outputs(self, stack: str) -> dict[str, Any]: ...

    def status(self, stack: str) -> str | None:
        """The stack's status (`running`, `success`, ...), None for an unknown stack."""
        ...


Done = Callable[[Any, BaseException | None], None]


class Chain(Protocol):
    """Port calls sent without waiting for their answer (an agent's calls to its master)."""

    def send(self, run: Callable[[], Any], done: Done) -> None:
        """Run the synchronous `run()` here, again after each port call it needs is answered,
        and hand its end to `done(value, None)` or `done(None, error)` (on whichever thread
        the answer came). Calls sent from another thread than the port's own leave at `flush`."""
        ...

    def flush(self) -> None:
        """Let the calls sent so far leave (together)."""
        ...


@dataclass
class StorePort:
    state: StatePort
    stacks: StackPort
    blocking: bool
    """Each call waits on a network (PostgreSQL, a master): run it on a worker thread."""
    replay: Callable[[Callable[[], Any]], Awaitable[Any]] | None = None
    """A port whose calls an event loop can await (a master's): `await replay(run)` runs the
    synchronous `run()`, awaiting each port call it makes on the loop instead of blocking a
    thread. Module functions whose only wait is one port call are offered to it (Replayable)."""
    chain: Chain | None = None
    """A port whose calls can be sent without waiting (an agent's): see Chain."""


class Replayable:
    """A blocking module function whose only wait is one call of a port that has `replay`:
    the Lua pool awaits it on its event loop (`sloth_async`) instead of handing it to a worker
    thread, which saves four thread wake-ups per call; or, with `chain`, the thread running
    Lua sends the call and goes on with other tasks until the answer comes (`sloth_chain`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        replay: Callable[[Callable[[], Any]], Awaitable[Any]],
        chain: Chain | None = None,
    ) -> None:
        self.fn = fn
        self.sloth_async = replay
        self.sloth_chain = chain
        self.__name__ = getattr(fn, "__name__", "module function")

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def offered(fn: Callable[..., Any], port: StorePort | None) -> Callable[..., Any]:
    """`fn` as a Replayable when the port can replay, else as it is."""
    if port is None or port.replay is None:
        return fn
    return Replayable(fn, port.replay, port.chain)


class LocalStacks:
    """StackPort on an open store: its stack catalog (outputs) and resources."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @cached_property  # built on first use: most workflows never touch `stack`
    def _catalog(self) -> StackCatalog:
        return StackCatalog(self._store)

    @cached_property
    def _resources(self) -> ResourceTable:
        return ResourceTable(self._store)

    def register(
        self, stack: str, spec: ResourceSpec, origin: Origin
    ) -> tuple[RegisterOutcome, ResourceRecord]:
        return self._resources.register(stack, spec, origin)

    def update(self, stack: str, type_: str, name: str, changes: dict[str, Any]) -> ResourceRecord:
        return self._resources.update(stack, type_, name, changes)

    def get(self, stack: str, type_: str, name: str) -> ResourceRecord | None:
        return self._resources.get(stack, type_, name)

    def find(self, stack: str, name: str) -> ResourceRecord | None:
        return self._resources.find(stack, name)

    def delete(self, stack: str, type_: str, name: str) -> bool:
        return self._resources.delete(stack, type_, name)

    def set_output(self, stack: str, key: str, value: Any) -> None:
        self._catalog.set_output(stack, key, value)

    def outputs(self, stack: str) -> dict[str, Any]:
        return self._catalog.outputs(stack)

    def status(self, stack: str) -> str | None:
        info = self._catalog.get(stack)
        return None if info is None else str(info.status)


def local_port(store: Store) -> StorePort:
    """The port of an open store: calls go straight to its tables."""
    return StorePort(store.state, LocalStacks(store), store.kind == "postgresql")
