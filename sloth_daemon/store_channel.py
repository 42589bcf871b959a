"""The caller's end of `StoreCall`: one stream that many threads and coroutines share.

Each call gets an id and a future; calls made while the previous message is on its way gather
into the next one, so sixteen tasks calling at once cost the master one message, not sixteen.
`call` is for the threads Lua runs on (it blocks); `acall` for coroutines on the channel's
event loop. When the stream breaks, every call in flight fails with a StoreError and the next
call opens a new stream (on the channel bound at that time).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import grpc

from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc
from sloth_daemon.gen.sloth.v1 import store_pb2 as spb
from sloth_daemon.store_ops import error_from_wire
from sloth_engine.errors import StoreError
from sloth_engine.store_port import Done

log = logging.getLogger(__name__)


class Callback:
    """A call nobody waits on: `done(result, None)` or `done(None, error)` is called on the
    channel's loop when the master answers, the stream fails or the call times out."""

    __slots__ = ("method", "fn", "deadline", "finished")

    def __init__(self, method: str, fn: Done, deadline: float) -> None:
        self.method, self.fn, self.deadline, self.finished = method, fn, deadline, False

    def done(self) -> bool:
        return self.finished

    def set_result(self, value: Any) -> None:
        self._end(value, None)

    def set_exception(self, error: BaseException) -> None:
        self._end(None, error)

    def _end(self, value: Any, error: BaseException | None) -> None:
        self.finished = True
        try:
            self.fn(value, error)
        except Exception:  # the caller's bug must not break the stream of every other call
            log.exception("a store call's answer could not be handed on (%s)", self.method)


Waiter = Future[Any] | asyncio.Future[Any] | Callback
"""A thread's call waits on a concurrent future, a coroutine's on an asyncio one; a sent call
has a callback."""
CALL_TIMEOUT = 60.0
"""How long a call waits for the master's answer before it fails."""
MAX_OPS_PER_MESSAGE = 1024


class StoreChannel:
    def __init__(
        self, metadata: Sequence[tuple[str, str]] | None = None, timeout: float = CALL_TIMEOUT
    ) -> None:
        self.metadata = tuple(metadata) if metadata else None
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._queue: deque[tuple[spb.StoreOp, Waiter]] = deque()
        self._pending: dict[int, Waiter] = {}
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stub: mgrpc.MasterServiceStub | None = None
        self._wake: asyncio.Event | None = None
        self._stream: asyncio.Task[None] | None = None
        self._kicking = False
        """A wake-up of the loop is on its way: calls queued meanwhile need no other."""
        self.messages = 0
        """Messages sent (calls / messages is the batching achieved)."""

    # ---- binding to a connection ------------------------------------------------------------

    def bind(self, channel: grpc.aio.Channel) -> None:
        """Use `channel` (call on its event loop) until `unbind`."""
        self._loop = asyncio.get_running_loop()
        self._stub = mgrpc.MasterServiceStub(channel)
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
            self._start()

    def unbind(self, reason: str) -> None:
        """The connection is gone: calls in flight fail with `reason`."""
        self._stub = None
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        self._fail_all(reason)

    # ---- calls ------------------------------------------------------------------------------

    def call(self, method: str, args: dict[str, Any]) -> Any:
        """From any thread but the channel's loop: the result, or the master's error raised."""
        future = self._submit(method, args)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            raise StoreError(f"the master did not answer {method} within {self.timeout:g}s") from None

    async def acall(self, method: str, args: dict[str, Any]) -> Any:
        """On the channel's loop (an asyncio future: no thread wake-up per answer)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._loop is not loop or self._stub is None:
            raise StoreError(f"{method}: not connected to the master")
        op = spb.StoreOp(id=next(self._ids), method=method, args_json=_json(args))
        with self._guard:
            self._queue.append((op, future))
        self._kick()
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise StoreError(f"the master did not answer {method} within {self.timeout:g}s") from None

    def send(self, method: str, args: dict[str, Any], done: Done) -> None:
        """From any thread, without waiting: `done(result, None)` or `done(None, error)` is
        called on the channel's loop (at once, here, when not connected). Sent from another
        thread than the loop's, the call leaves at the next `flush`, with the others sent
        meanwhile: one message, one wake-up of the loop."""
        loop = self._loop
        if loop is None or self._stub is None:
            done(None, StoreError(f"{method}: not connected to the master"))
            return
        op = spb.StoreOp(id=next(self._ids), method=method, args_json=_json(args))
        callback = Callback(method, done, time.monotonic() + self.timeout)
        if _on(loop):
            self._enqueue(loop, op, callback)
        else:
            with self._guard:
                self._queue.append((op, callback))

    def flush(self) -> None:
        """Send the calls `send` queued from another thread."""
        loop = self._loop
        with self._guard:
            if not self._queue or self._kicking or loop is None:
                return
            self._kicking = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: unbind fails them
            loop.call_soon_threadsafe(self._kick)

    def _submit(self, method: str, args: dict[str, Any]) -> Future[Any]:
        future: Future[Any] = Future()
        op = spb.StoreOp(id=next(self._ids), method=method, args_json=_json(args))
        loop = self._loop
        if loop is None or self._stub is None:
            future.set_exception(StoreError(f"{method}: not connected to the master"))
            return future
        self._enqueue(loop, op, future)
        return future

    def _enqueue(self, loop: asyncio.AbstractEventLoop, op: spb.StoreOp, waiter: Waiter) -> None:
        with self._guard:
            self._queue.append((op, waiter))
            if self._kicking:
                return  # the wake-up on its way takes this call too
            self._kicking = True
        if _on(loop):
            self._kick()
        else:
            loop.call_soon_threadsafe(self._kick)

    def _kick(self) -> None:
        self._kicking = False
        if self._stub is None:
            self._fail_all("not connected to the master")
            return
        if self._wake is not None:
            self._wake.set()
        self._start()

    def _start(self) -> None:
        if self._stream is None or self._stream.done():
            self._stream = asyncio.get_running_loop().create_task(self._run(self._stub))

    # ---- the stream -------------------------------------------------------------------------

    async def _run(self, stub: mgrpc.MasterServiceStub | None) -> None:
        if stub is None:
            return
        reason = "the store stream ended"
        sweeper = asyncio.get_running_loop().create_task(self._sweep())
        try:
            call = stub.StoreCall(self._requests(), metadata=self.metadata)
            async for results in call:
                for result in results.results:
                    self._settle(result)
        except grpc.aio.AioRpcError as exc:
            reason = f"the master's store stream failed: {exc.code().name} {exc.details()}"
        except asyncio.CancelledError:
            reason = "the connection to the master was closed"
        finally:
            sweeper.cancel()
            if self._stream is asyncio.current_task():
                self._stream = None
            self._fail_all(reason)

    async def _requests(self) -> AsyncIterator[spb.StoreOps]:
        wake = self._wake
        assert wake is not None
        while True:
            await wake.wait()
            wake.clear()
            while self._queue:
                batch = spb.StoreOps()
                with self._guard:
                    while self._queue and len(batch.ops) < MAX_OPS_PER_MESSAGE:
                        op, future = self._queue.popleft()
                        self._pending[op.id] = future
                        batch.ops.append(op)
                self.messages += 1
                yield batch

    def _settle(self, result: spb.StoreResult) -> None:
        with self._guard:
            future = self._pending.pop(result.id, None)
        if future is None or future.done():
            return
        if result.error_kind:
            future.set_exception(error_from_wire(result.error_kind, result.error, result.error_json))
        else:
            future.set_result(json.loads(result.result_json) if result.result_json else None)

    async def _sweep(self) -> None:
        """Fail the sent calls the master has not answered in time (a future's waiter times
        out by itself; a callback has nobody waiting)."""
        while True:
            await asyncio.sleep(min(1.0, self.timeout / 4))
            now = time.monotonic()
            with self._guard:
                late = [
                    (key, w)
                    for key, w in self._pending.items()
                    if isinstance(w, Callback) and w.deadline < now
                ]
                for key, _w in late:
                    del self._pending[key]
            for _key, callback in late:
                text = f"the master did not answer {callback.method} within {self.timeout:g}s"
                callback.set_exception(StoreError(text))

    def _fail_all(self, reason: str) -> None:
        with self._guard:
            waiting = list(self._pending.values()) + [f for _op, f in self._queue]
            self._pending.clear()
            self._queue.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(StoreError(reason))


def _json(args: dict[str, Any]) -> bytes:
    return json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode()


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
