"""Real `sloth-daemon master` and `agent` processes on 127.0.0.1 for the distributed tests.

Every process is started with a ready file and waited for with a deadline, never a fixed
sleep; `close()` kills everything that was started (the fixtures call it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START_TIMEOUT = 20.0


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition", every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.db = f"sqlite:///{root / 'sloth.db'}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.master_proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self._n = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("SLOTH_MASTER", None)
        env.update(SLOTH_HOME=str(self.home), SLOTH_DB=self.db, PYTHONUNBUFFERED="1")
        return env

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.root / log_name, "ab")  # noqa: SIM115 - kept open for the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloth_daemon.cli.main", *args],
            env=self.env(),
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def _ready(self, path: Path, proc: subprocess.Popen[bytes], what: str) -> str:
        def check() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited with {proc.returncode}: {self.logs()}")
            return path.read_text().strip() if path.exists() else None

        return wait_for(check, START_TIMEOUT, f"{what} to be ready")

    def start_master(self, listen: str = "127.0.0.1:0", *extra: str) -> str:
        self._n += 1
        ready = self.root / f"master-{self._n}.ready"
        proc = self._spawn(
            ["master", "--listen", listen, "--ready-file", str(ready), "--startup-grace", "5s", *extra],
            "master.log",
        )
        self.address = self._ready(ready, proc, "master")
        self.master_proc = proc
        return self.address

    def start_agent(
        self, name: str, tags: str = "", max_tasks: int = 4, heartbeat: str = "0.3s", wait: bool = True
    ) -> subprocess.Popen[bytes]:
        self._n += 1
        ready = self.root / f"agent-{name}-{self._n}.ready"
        args = ["agent", "--master", self.address, "--name", name, "--max-tasks", str(max_tasks)]
        args += ["--heartbeat", heartbeat, "--reconnect-max", "0.5s", "--ready-file", str(ready)]
        if tags:
            args += ["--tags", tags]
        proc = self._spawn(args, f"agent-{name}.log")
        self.agents[name] = proc
        if wait:
            self._ready(ready, proc, f"agent {name}")
        return proc

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=15)

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sloth_daemon.cli.main", *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def cli_json(self, *args: str) -> Any:
        done = self.cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def client(self) -> Any:
        from sloth_daemon.client import MasterClient

        return MasterClient(self.address)

    def store(self) -> Any:
        from sloth_engine.store import open_store

        return open_store(self.db)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.root.glob("*.log"))
        )

    def close(self) -> None:
        # Tasks on a master's host run in sessions of their own (they outlive a killed master
        # on purpose): end those still running, as the master's group is ended below.
        for identity in self.home.glob("master/host/*/*/*/child.json"):
            try:
                os.killpg(int(json.loads(identity.read_text())["pgid"]), signal.SIGKILL)
            except (OSError, ValueError, KeyError):
                pass
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@contextmanager
def examples_cluster(root: Path) -> Iterator[Cluster]:
    """A master watching examples/ and one agent, alpha (role=build): what the console tests drive."""
    c = Cluster(root)
    try:
        c.start_master("127.0.0.1:0", "--watch", str(EXAMPLES))
        c.start_agent("alpha", "role=build")
        yield c
    finally:
        c.close()
