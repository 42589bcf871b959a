"""Helpers of the distributed benchmarks (D1-D3): a master and agents as real processes.

Not a benchmark itself. Everything started here is killed by `Cluster.close()`.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class Cluster:
    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="sloth-bench-")
        self.root = Path(self.tmp.name)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("SLOTH_MASTER", None)
        env.update(SLOTH_HOME=str(self.root / "home"), SLOTH_DB=f"sqlite:///{self.root / 'sloth.db'}")
        return env

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloth_daemon.cli.main", *args],
            env=self.env(),
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "daemons.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def _wait(self, path: Path, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {path.name}: {(self.root / 'daemons.log').read_text()}")
            time.sleep(0.02)
        return path.read_text().strip()

    def start(self, agents: int, max_tasks: int = 16, heartbeat: str = "2s") -> None:
        ready = self.root / "master.ready"
        self.master = self._spawn("master", "--listen", "127.0.0.1:0", "--ready-file", str(ready))
        self.address = self._wait(ready)
        for i in range(agents):
            path = self.root / f"agent{i}.ready"
            self._spawn(
                "agent", "--master", self.address, "--name", f"bench{i}", "--max-tasks", str(max_tasks),
                "--heartbeat", heartbeat, "--ready-file", str(path),
            )
        for i in range(agents):
            self._wait(self.root / f"agent{i}.ready")

    def client(self) -> Any:
        from sloth_daemon.client import MasterClient

        return MasterClient(self.address)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
        self.tmp.cleanup()


def run_once(client: Any, path: Path, events: bool = False) -> tuple[float, Any]:
    """Submit, wait for the report (with every event streamed too when `events`):
    (wall seconds end to end, RunResult)."""
    started = time.perf_counter()
    plan = client.submit_run(str(path), path.read_text())
    result = None
    for item in client.follow_run(plan[0].run_id, events=events):
        result = item
    return time.perf_counter() - started, result


def median(values: list[float]) -> float:
    return statistics.median(values)


if __name__ == "__main__":
    print("helper module of bench_d1/d2/d3; run those instead")
