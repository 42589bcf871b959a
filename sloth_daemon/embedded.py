"""A master and a local agent on this machine, for `sloth-tui --embedded` (and tests).

Both are real `sloth-daemon` processes on 127.0.0.1 (port 0, ready files), on the store of
`home` (the caller's $SLOTH_HOME, or a temporary folder removed at close), the master
watching the examples folder so its workflows are ready to run. `close()` stops both; they
also stop by themselves when the process that started them dies (sloth_daemon.parent_watch).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sloth_daemon.errors import MasterUnavailable
from sloth_daemon.parent_watch import child_env
from sloth_engine.process import DEVNULL, STDOUT, signal_group, start

START_TIMEOUT = 30.0
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
"""The repository's examples (present in a source checkout or an editable install)."""


@dataclass
class Embedded:
    address: str
    home: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    temporary: bool = False

    def close(self) -> None:
        """Stop the agent, then the master (SIGTERM, then SIGKILL after a few seconds)."""
        for proc in reversed(self.procs):
            _stop(proc)
        if self.temporary:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Embedded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_embedded(
    home: Path | None = None,
    watch: Path | None = EXAMPLES,
    agent: str = "local",
    heartbeat: str = "1s",
) -> Embedded:
    """Start the master (watching `watch`) and one agent; MasterUnavailable if they do not
    come up within START_TIMEOUT (their log is in the message)."""
    temporary = home is None
    home = Path(home or tempfile.mkdtemp(prefix="sloth-embedded-"))
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SLOTH_HOME=str(home), PYTHONUNBUFFERED="1")
    env.pop("SLOTH_MASTER", None)
    cluster = Embedded("", home, temporary=temporary)
    try:
        args = ["master", "--listen", "127.0.0.1:0", "--startup-grace", "2s"]
        if watch is not None and watch.is_dir():
            args += ["--watch", str(watch)]
        cluster.address = _start(cluster, env, args, "master")
        args = ["agent", "--master", cluster.address, "--name", agent, "--heartbeat", heartbeat]
        _start(cluster, env, [*args, "--reconnect-max", "1s"], "agent")
    except BaseException:
        cluster.close()
        raise
    return cluster


def _start(cluster: Embedded, env: dict[str, str], args: list[str], what: str) -> str:
    ready = cluster.home / f"embedded-{what}.ready"
    ready.unlink(missing_ok=True)
    log_path = cluster.home / f"embedded-{what}.log"
    with open(log_path, "ab") as log:
        proc = start(
            [sys.executable, "-m", "sloth_daemon.cli.main", *args, "--ready-file", str(ready)],
            env=child_env(env),
            cwd=str(cluster.home),
            stdin=DEVNULL,
            stdout=log,
            stderr=STDOUT,
            die_with_parent=True,
        )
    cluster.procs.append(proc)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise MasterUnavailable(f"the embedded {what} did not start:\n{tail}")
        time.sleep(0.02)
    return ready.read_text().strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            signal_group(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
