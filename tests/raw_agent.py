"""A hand-made agent for the trust tests: a raw Connect stream driven message by message.

It sends what the test tells it (Register, forged results) and records what the master
answers and how the stream ended (status code, when), without any of the real agent's logic.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc

_END = object()


class RawAgent:
    def __init__(self, chan: grpc.Channel, name: str, token: str | None, instance_id: str = "") -> None:
        self.name = name
        self.sent: queue.Queue[Any] = queue.Queue()
        self.received: list[apb.MasterToAgent] = []
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self.ended_at: float | None = None
        self.done = threading.Event()
        self.send(
            apb.AgentToMaster(
                register=apb.Register(
                    name=name,
                    instance_id=instance_id or uuid.uuid4().hex,
                    max_tasks=1,
                    heartbeat_interval_s=1.0,
                )
            )
        )
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        self.call = mgrpc.MasterServiceStub(chan).Connect(self._requests(), metadata=metadata)
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, message: apb.AgentToMaster) -> None:
        self.sent.put(message)

    def result(self, run_id: str, task: str, attempt: int, token: str, status: str = "success") -> None:
        ref = apb.TaskRef(run_id=run_id, task=task, attempt=attempt, attempt_token=token)
        updates = apb.TaskUpdates(results=[apb.TaskResult(ref=ref, status=status, message="forged")])
        self.send(apb.AgentToMaster(updates=updates))

    def registered(self) -> apb.Registered | None:
        for message in self.received:
            if message.WhichOneof("kind") == "registered":
                return message.registered
        return None

    def close(self) -> None:
        self.sent.put(_END)
        self.call.cancel()

    def _requests(self) -> Iterator[apb.AgentToMaster]:
        while True:
            item = self.sent.get()
            if item is _END:
                return
            yield item

    def _read(self) -> None:
        try:
            for message in self.call:
                self.received.append(message)
        except grpc.RpcError as exc:
            self.code, self.details = exc.code(), exc.details() or ""
        else:
            self.code = grpc.StatusCode.OK
        self.ended_at = time.monotonic()
        self.done.set()
