"""Children die with their parent: a SIGKILLed agent leaves no task process behind (nor what
that process started), and `sloth-tui --embedded`'s master and agent end with the console."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed_cluster import Cluster, wait_for
from procs import alive, gone

REPO = Path(__file__).resolve().parent.parent

# A shell task that starts a grandchild in the background and waits: both must go.
HOLDS = """
task("hold"):command("sleep 120 & echo $! > {dir}/grandchild.pid; echo $$ > {dir}/child.pid; wait")
  :delegate_to("worker"):timeout("5m")
local lua = task("lua_hold"):command(function()
  exec.run("echo $$ > {dir}/exec.pid; exec sleep 120")
  return true
end):delegate_to("worker"):timeout("5m")
"""


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _pid(path: Path) -> int | None:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else None


def test_a_killed_agent_leaves_no_task_process(cluster: Cluster) -> None:
    cluster.start_master()
    agent = cluster.start_agent("worker")
    path = cluster.write("hold.sloth", HOLDS.replace("{dir}", str(cluster.root)))
    pids: list[int] = []
    try:
        with cluster.client() as client:
            client.submit_run(str(path), path.read_text())
        names = ("child.pid", "grandchild.pid", "exec.pid")
        wait_for(lambda: all(_pid(cluster.root / n) for n in names), 30, "the task processes")
        pids = [p for n in names if (p := _pid(cluster.root / n)) is not None]
        assert all(alive(p) for p in pids)
        cluster.kill(agent, signal.SIGKILL)
        for pid in pids:
            assert gone(pid, within=10), f"process {pid} outlived its agent"
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


CONSOLE = """
import sys, time
from pathlib import Path
from sloth_daemon.embedded import start_embedded
cluster = start_embedded(Path(sys.argv[1]), watch=None)
print(" ".join(str(p.pid) for p in cluster.procs), flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_embedded_master_and_agent_end_with_the_console(sig: signal.Signals, tmp_path: Path) -> None:
    """The console process dies (SIGKILL: no cleanup of its own runs); its children follow."""
    console = subprocess.Popen(
        [sys.executable, "-c", CONSOLE, str(tmp_path / "home")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")},
    )
    children: list[int] = []
    try:
        assert console.stdout is not None
        children = [int(p) for p in console.stdout.readline().split()]
        assert len(children) == 2 and all(alive(p) for p in children)
        started = time.monotonic()
        console.send_signal(sig)
        console.wait(timeout=10)
        for pid in children:
            assert gone(pid, within=15), f"process {pid} outlived the console"
        assert time.monotonic() - started < 15
    finally:
        if console.poll() is None:
            console.kill()
            console.wait(timeout=5)
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
