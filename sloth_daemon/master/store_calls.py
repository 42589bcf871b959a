"""`StoreCall` on the master: the state, locks and stack resources of tasks running on agents.

An agent keeps no store: its tasks' `state` and `stack` calls arrive here on one stream per
agent, batched (store.proto). A message's ops run one after the other on a store thread (one
for SQLite, whose writes serialise anyway; a few for PostgreSQL, where each is a round trip)
and are answered in one message. A stream's messages are taken in order, so the ops of one
caller keep their order, and while a batch runs the caller's next ops gather into the next one.

Nothing here waits on a lock: an agent polls `state.try_lock` itself, so a waiting task holds
no thread of the master. A malformed call is answered with a UsageError; the stream, the master
and every other caller go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from sloth_daemon.gen.sloth.v1 import store_pb2 as spb
from sloth_daemon.store_ops import OPS, error_to_wire
from sloth_engine.errors import StoreError, UsageError
from sloth_engine.store import Store
from sloth_engine.store_port import StorePort, local_port

log = logging.getLogger(__name__)

MAX_OPS_PER_MESSAGE = 4096


class StoreCalls:
    def __init__(self, store: Store) -> None:
        self.port: StorePort = local_port(store)
        on_pg = getattr(store, "kind", "") == "postgresql"
        workers = 4 if on_pg else 1
        self._batched: Store | None = None if on_pg else store
        """SQLite: a message's ops share one commit. (Not on PostgreSQL, where batches of several
        threads holding row locks across a batch could deadlock each other.)"""
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="store-call")
        self.ops = 0
        """Calls answered since the start (for /metrics and benchmarks)."""

    async def serve(
        self, requests: AsyncIterator[spb.StoreOps], context: Any
    ) -> AsyncIterator[spb.StoreResults]:
        loop = asyncio.get_running_loop()
        async for batch in requests:
            if len(batch.ops) > MAX_OPS_PER_MESSAGE:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_OPS_PER_MESSAGE} store calls per message"
                )
            yield await loop.run_in_executor(self._pool, self.run_batch, list(batch.ops))

    def run_batch(self, ops: list[spb.StoreOp]) -> spb.StoreResults:
        """Answer a message's ops. On SQLite they share one commit, a commit costing far more
        than a write. A failing op undoes only itself: each is one statement, or a transaction
        of its own (a savepoint inside the batch's)."""
        self.ops += len(ops)
        if self._batched is None or len(ops) < 2:
            return self._answer(ops)
        try:
            with self._batched.transaction():
                return self._answer(ops)
        except StoreError:
            log.warning("a batch of %d store calls could not commit; running them one by one", len(ops))
            return self._answer(ops)

    def _answer(self, ops: list[spb.StoreOp]) -> spb.StoreResults:
        out = spb.StoreResults()
        for op in ops:
            result = out.results.add(id=op.id)
            try:
                value = self._run(op)
                result.result_json = json.dumps(value, separators=(",", ":")).encode()
            except Exception as exc:  # every failure is answered; the stream goes on
                kind, message, attrs = error_to_wire(exc)
                if kind == "internal":
                    log.exception("store call %s failed", op.method)
                result.error_kind, result.error, result.error_json = kind, message, attrs
        return out

    def _run(self, op: spb.StoreOp) -> Any:
        fn = OPS.get(op.method)
        if fn is None:
            raise UsageError(f"unknown store call '{op.method}'")
        try:
            args = json.loads(op.args_json) if op.args_json else {}
        except ValueError:
            raise UsageError(f"store call {op.method}: arguments are not JSON") from None
        if not isinstance(args, dict):
            raise UsageError(f"store call {op.method}: arguments must be a JSON object")
        try:
            return fn(self.port, args)
        except (KeyError, IndexError, TypeError) as exc:
            raise UsageError(f"store call {op.method}: malformed arguments ({exc})") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False)
