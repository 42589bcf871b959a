"""`agent exec`: shell commands the master asks for, their output lines streamed back."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_engine.process import signal_group, start_async

MAX_LINE = 64 * 1024


class ExecRunner:
    def __init__(self) -> None:
        self.emit: Callable[[apb.ExecOutput], None] = lambda out: None
        self._running: dict[str, asyncio.Task[None]] = {}

    def start(self, request: apb.ExecRequest) -> None:
        task = asyncio.create_task(self._run(request))
        self._running[request.exec_id] = task
        task.add_done_callback(lambda _t: self._running.pop(request.exec_id, None))

    def cancel(self, exec_id: str) -> None:
        task = self._running.get(exec_id)
        if task is not None:
            task.cancel()

    def cancel_all(self) -> None:
        for task in list(self._running.values()):
            task.cancel()

    async def _run(self, request: apb.ExecRequest) -> None:
        exec_id = request.exec_id
        try:
            proc = await start_async(["/bin/sh", "-c", request.command], limit=MAX_LINE)
        except OSError as exc:
            self.emit(apb.ExecOutput(exec_id=exec_id, done=True, exit_code=127, error=str(exc)))
            return
        try:
            async with asyncio.timeout(request.timeout_s or None):
                await asyncio.gather(
                    self._pump(exec_id, "stdout", proc.stdout), self._pump(exec_id, "stderr", proc.stderr)
                )
                code = await proc.wait()
            self.emit(apb.ExecOutput(exec_id=exec_id, done=True, exit_code=code))
        except TimeoutError:
            _kill(proc)
            text = f"timed out after {request.timeout_s:g}s"
            self.emit(apb.ExecOutput(exec_id=exec_id, done=True, exit_code=124, error=text))
        except asyncio.CancelledError:
            _kill(proc)
            raise

    async def _pump(self, exec_id: str, stream: str, reader: asyncio.StreamReader | None) -> None:
        if reader is None:
            return
        while True:
            try:
                raw = await reader.readline()
            except ValueError:  # a line over the limit: take what there is
                raw = await reader.read(MAX_LINE)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.emit(apb.ExecOutput(exec_id=exec_id, stream=stream, line=line))


def _kill(proc: asyncio.subprocess.Process) -> None:
    signal_group(proc.pid, signal.SIGKILL)
