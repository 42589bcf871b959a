"""The live view of `run` in a real terminal (tmux): while a 3-task run is in flight the running
task shows as running with its time ticking, the finished one as success, the waiting one as
pending; a summary line counts them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"), pytest.mark.timeout(90)]

FLOW = """
local first = task("first"):command("true")
local gated = task("gated"):depends_on("first")
  :command("while [ ! -f {gate} ]; do sleep 0.05; done")
local last = task("last"):depends_on("gated"):command("true")
workflow.define("live"):tasks({{ first, gated, last }})
"""


def _screen(socket: str) -> str:
    done = subprocess.run(
        ["tmux", "-L", socket, "capture-pane", "-p", "-t", "live"], capture_output=True, text=True
    )
    return done.stdout


def _wait(socket: str, check: object, what: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _screen(socket)
        if check(screen):  # type: ignore[operator]
            return screen
        time.sleep(0.05)
    raise AssertionError(f"{what} not on the screen:\n{screen}")


def _row(screen: str, task: str) -> str:
    return next((line for line in screen.splitlines() if re.search(rf"\b{task}\b", line)), "")


def test_the_live_view_shows_the_running_task_running(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    flow = tmp_path / "live.sloth"
    flow.write_text(FLOW.format(gate=gate))
    socket = f"sloth-live-{os.getpid()}"
    env = {"SLOTH_HOME": str(tmp_path / "home"), "TERM": "xterm-256color"}
    command = " ".join(
        [
            *(f"{k}={v}" for k, v in env.items()),
            sys.executable,
            "-m",
            "sloth_daemon.cli.main",
            "run",
            str(flow),
        ]
        + ["; sleep 30"]
    )
    subprocess.run(
        ["tmux", "-L", socket, "new-session", "-d", "-s", "live", "-x", "120", "-y", "30", command],
        check=True,
        cwd=tmp_path,
    )
    try:
        screen = _wait(socket, lambda s: "running" in _row(s, "gated"), "gated running")
        assert "success" in _row(screen, "first") and "pending" in _row(screen, "last")
        assert re.search(r"3 tasks: 1 running, 1 success, 1 pending", screen), screen
        first_time = _row(screen, "gated")
        _wait(
            socket,
            lambda s: "running" in _row(s, "gated") and _row(s, "gated") != first_time,
            "a ticking timer",
        )
        gate.write_text("open")
        screen = _wait(socket, lambda s: "SUCCESS" in s, "the end of the run")
        assert all("success" in _row(screen, t) for t in ("first", "gated", "last")), screen
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
