"""End to end in a real terminal: `sloth-tui` in tmux against a real master and agent starts
hello_world from the `:` palette, and the finished DAG is read off `tmux capture-pane`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_cluster import Cluster, examples_cluster, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "console")

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        found: list[str] = []

        def shows() -> bool:
            found[:] = [self.screen()]
            return all(t in found[0] for t in texts)

        try:
            wait_for(shows, timeout, f"{texts} on the screen", every=0.05)
        except AssertionError:
            raise AssertionError(f"{texts} not on the screen:\n{found[0] if found else ''}") from None
        return found[0]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with examples_cluster(tmp_path) as c:
        yield c


@pytest.fixture
def tmux(cluster: Cluster) -> Iterator[Tmux]:
    term = Tmux(f"sloth-e2e-{os.getpid()}")
    env = " ".join(f"{k}={v}" for k, v in (("SLOTH_HOME", cluster.home), ("TERM", "xterm-256color")))
    command = f"env -u COLUMNS -u LINES {env} {sys.executable} -m sloth_tui --master {cluster.address}"
    term("-f", "/dev/null", "new-session", "-d", "-s", "console", "-x", "140", "-y", "40", "sleep 600")
    term("set-option", "-t", "console", "window-size", "manual")
    term("resize-window", "-t", "console", "-x", "140", "-y", "40")
    term("respawn-pane", "-k", "-t", "console", command)
    try:
        yield term
    finally:
        subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True, timeout=10)


def test_run_a_workflow_from_the_palette_and_read_the_finished_dag(tmux: Tmux) -> None:
    tmux.wait_for("Overview", "connected", "alpha")
    tmux("send-keys", "-t", "console", ":")
    tmux.wait_for("Search for commands")
    tmux("send-keys", "-t", "console", "-l", "run hello_world")
    tmux.wait_for("Run hello_world (hello_world.sloth)")
    tmux("send-keys", "-t", "console", "Enter")
    tmux.wait_for("Run a workflow")
    tmux("send-keys", "-t", "console", "Enter")  # picks hello_world (the dialog opens on the picker)
    tmux.wait_for("hello_world: Enter in a field")
    tmux("send-keys", "-t", "console", "Enter")  # in the values field: runs it
    screen = tmux.wait_for("success  ", "● 2 success", "level 0 (1)", "level 1 (1)")
    summary = screen.splitlines()[1].split()
    assert summary[0] == "hello_world" and summary[2] == "success", screen
    dag = [line for line in screen.splitlines() if "greet" in line or "wave" in line]
    assert any("● greet" in line for line in dag), screen
    assert any("wave" in line and "●" in line for line in dag), screen
