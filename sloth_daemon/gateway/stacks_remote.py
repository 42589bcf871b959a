"""The stack API through a master: `RemoteStacks` offers the parts of sloth_engine.stacks.Stacks
the stack commands use (catalog, resources, locks, snapshots, drift, deps, the store's stack
runs and events, validation) and answers with the same records, built again from the master's
JSON (ReadStack for reads, ChangeStack for changes: master/gateway_stacks.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb

from . import records as rec

if TYPE_CHECKING:
    from sloth_engine.store import Store

Decode = Callable[[Any], Any]


def _stack_info(doc: Any) -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.store.stack_records import StackInfo

    return StackInfo(**doc)


def _resource(doc: Any) -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.store.stack_records import ResourceRecord

    return ResourceRecord(**doc)


def _snapshot_info(doc: Any) -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.store.stack_records import SnapshotInfo

    return SnapshotInfo(**doc)


def _snapshot(doc: Any) -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.store.stack_records import Snapshot

    return Snapshot(_snapshot_info(doc["info"]), [_resource(r) for r in doc["resources"]], doc["outputs"])


def _report(doc: Any) -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.stacks.drift import DriftReport, Finding

    return DriftReport(**{**doc, "findings": [Finding(**f) for f in doc["findings"]]})


def _check(doc: Any) -> Any:
    # lazy: loaded by the commands that need it, not by every command line
    from sloth_engine.stacks.validation import Check

    return Check(**doc)


def _many(one: Decode) -> Decode:
    return lambda docs: [one(d) for d in docs]


def _maybe(one: Decode) -> Decode:
    return lambda doc: None if doc is None else one(doc)


def _graph(doc: Any) -> dict[str, set[str]]:
    return {name: set(deps) for name, deps in doc.items()}


def _same(doc: Any) -> Any:
    return doc


DECODE: dict[tuple[str, str], Decode] = {
    ("catalog", "list"): _many(_stack_info),
    ("catalog", "get"): _maybe(_stack_info),
    ("catalog", "require"): _stack_info,
    ("catalog", "create"): _stack_info,
    ("resources", "list"): _many(_resource),
    ("locks", "status"): _maybe(rec.lock_info),
    ("locks", "acquire"): rec.lock_grant,
    ("locks", "force_release"): _maybe(rec.lock_info),
    ("snapshots", "list"): _many(_snapshot_info),
    ("snapshots", "get"): _snapshot,
    ("snapshots", "current"): _snapshot,
    ("snapshots", "create"): _snapshot_info,
    ("snapshots", "restore"): _snapshot_info,
    ("drift", "latest"): _maybe(_report),
    ("drift", "detect"): _report,
    ("events", "list"): _many(rec.event_record),
    ("deps", "closure"): _graph,
    ("deps", "graph"): _graph,
    ("validation", "validate"): _many(_check),
}
CHANGES = {
    ("catalog", "create"), ("catalog", "delete"), ("locks", "acquire"), ("locks", "release"),
    ("locks", "force_release"), ("snapshots", "create"), ("snapshots", "restore"),
    ("snapshots", "delete"), ("drift", "detect"), ("deps", "add"), ("deps", "remove"),
}  # fmt: skip
"""Sent as ChangeStack (an operator's); everything else as ReadStack."""
SLOW = {("drift", "detect"), ("validation", "validate")}
"""Calls that read every resource's actual state: a longer deadline."""


class _Part:
    def __init__(self, client: Any, part: str) -> None:
        self._client = client
        self._part = part

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        key = (self._part, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            request = mpb.StackCallRequest(
                part=self._part,
                method=method,
                args_json=json.dumps({"args": list(args), "kwargs": kwargs}).encode(),
            )
            stub = self._client._stub
            rpc = stub.ChangeStack if key in CHANGES else stub.ReadStack
            timeout = 300.0 if key in SLOW else None
            doc = rec.loads(self._client._call(rpc, request, timeout=timeout).doc_json)
            return DECODE.get(key, _same)(doc)

        return call


class _Store:
    """The parts of the store the stack commands read besides the stacks (runs, events)."""

    def __init__(self, client: Any) -> None:
        self.runs = _Part(client, "runs")
        self.events = _Part(client, "events")


class RemoteStacks:
    remote = True

    def __init__(self, client: Any) -> None:
        self.client = client
        """The master's client: `stack drift fix` has the master run the fix (FixDrift)."""
        self.store = _Store(client)
        for part in ("catalog", "resources", "locks", "snapshots", "drift", "deps"):
            setattr(self, part, _Part(client, part))
        self._validation = _Part(client, "validation")

    def validate(self, name: str) -> list[Any]:
        return self._validation.validate(name)


class LocalStacks:
    """The engine's Stacks on the local store, with the same `validate` as RemoteStacks."""

    remote = False

    def __init__(self, store: Store) -> None:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.stacks import Stacks

        self._stacks = Stacks(store)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stacks, name)

    def validate(self, name: str) -> list[Any]:
        # lazy: loaded by the commands that need it, not by every command line
        from sloth_engine.stacks.validation import validate

        return validate(self._stacks, name)
