"""The stack commands through a master: ReadStack (a viewer's) and ChangeStack (an operator's)
each run one call of the engine's stack API on the master's store, from a fixed table.

A mixin of MasterServicer (after ConsoleRpcs, whose `_stacks` and `_announce_stack_events` it
uses). The answer is the call's record as JSON; the client builds the same record again
(sloth_daemon.gateway.stacks_remote), so `stack ...` prints the same thing either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from sloth_daemon.gateway.records import dumps
from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.master.guards import unary
from sloth_engine.errors import UsageError
from sloth_engine.stacks.validation import validate
from sloth_engine.store import Store

READS: dict[str, frozenset[str]] = {
    "catalog": frozenset({"list", "get", "require"}),
    "resources": frozenset({"list", "count"}),
    "locks": frozenset({"status"}),
    "snapshots": frozenset({"list", "get", "current"}),
    "drift": frozenset({"latest"}),
    "deps": frozenset({"describe", "cycle", "order", "closure", "graph"}),
    "runs": frozenset({"stack_runs"}),
    "events": frozenset({"list"}),
    "validation": frozenset({"validate"}),
}
"""What ReadStack answers: reads only (validation reads the resources' actual state)."""
CHANGES: dict[str, frozenset[str]] = {
    "catalog": frozenset({"create", "delete"}),
    "locks": frozenset({"acquire", "release", "force_release"}),
    "snapshots": frozenset({"create", "restore", "delete"}),
    "drift": frozenset({"detect"}),
    "deps": frozenset({"add", "remove"}),
}
"""What ChangeStack answers (an operator's): what writes the stacks' tables or their events."""
MAX_ARGS = 8


class GatewayStacks:
    runs: Any
    _stacks: Any
    _store: Callable[[], Store]
    _announce_stack_events: Any

    @unary
    async def ReadStack(self, request: mpb.StackCallRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await self._stack_call(request, READS)

    @unary
    async def ChangeStack(self, request: mpb.StackCallRequest, context: Any) -> mpb.GatewayDoc:  # noqa: N802
        return await self._stack_call(request, CHANGES)

    async def _stack_call(
        self, request: mpb.StackCallRequest, table: dict[str, frozenset[str]]
    ) -> mpb.GatewayDoc:
        if request.method not in table.get(request.part, frozenset()):
            raise UsageError(f"no stack call {request.part}.{request.method} here")
        args, kwargs = _arguments(request.args_json)

        def call() -> bytes:
            mark = self._store().events.last_id()
            try:
                return dumps(self._target(request.part, request.method)(*args, **kwargs))
            finally:
                self._announce_stack_events(mark)

        try:
            data = await asyncio.to_thread(call)
        except (TypeError, AttributeError, ValueError) as exc:  # arguments of the wrong shape
            raise UsageError(f"{request.part}.{request.method}: bad arguments: {exc}") from None
        return mpb.GatewayDoc(doc_json=data)

    def _target(self, part: str, method: str) -> Any:
        stacks = self._stacks()
        if part == "validation":
            return lambda *args: validate(stacks, *args)
        if part in ("runs", "events"):
            return getattr(getattr(self._store(), part), method)
        return getattr(getattr(stacks, part), method)


def _arguments(data: bytes) -> tuple[list[Any], dict[str, Any]]:
    """{"args": [...], "kwargs": {...}} (or a bare array of positional arguments)."""
    try:
        doc = json.loads(data or b"[]")
    except ValueError as exc:
        raise UsageError(f"the call's arguments are not JSON: {exc}") from None
    if isinstance(doc, list):
        doc = {"args": doc}
    args, kwargs = (
        doc.get("args", []) if isinstance(doc, dict) else None,
        doc.get("kwargs", {}) if isinstance(doc, dict) else None,
    )
    if not isinstance(args, list) or not isinstance(kwargs, dict) or len(args) + len(kwargs) > MAX_ARGS:
        raise UsageError('a stack call\'s arguments: {"args": [...], "kwargs": {...}}')
    if not all(isinstance(k, str) and k.isidentifier() and not k.startswith("_") for k in kwargs):
        raise UsageError("a stack call's keyword arguments are plain names")
    return args, kwargs
