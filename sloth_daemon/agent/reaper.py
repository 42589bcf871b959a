"""The agent's reaper: a small child process that kills the agent's task processes when the
agent dies by any means (SIGKILL and the OOM killer included).

The agent writes "+PGID" when a task process group starts and "-PGID" when it ended on the
reaper's stdin. When that pipe reaches its end, the agent is gone (the kernel closes the pipe
of a dead process whatever killed it): the reaper SIGKILLs every group still registered and
exits. `start_reaper()` is called once by `sloth-daemon agent`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import threading
from typing import IO

from sloth_engine.process import DEVNULL, PIPE, signal_group, start
from sloth_engine.task_groups import TASK_GROUPS

log = logging.getLogger(__name__)


def start_reaper() -> subprocess.Popen[bytes] | None:
    """Start the reaper and make it follow this process's task process groups."""
    try:
        # Its own group: a Ctrl-C of the agent's terminal is not for it.
        proc = start(
            [sys.executable, "-m", "sloth_daemon.agent.reaper"], stdin=PIPE, stdout=DEVNULL, stderr=None
        )
    except OSError as exc:
        log.warning("no reaper for task processes (they may outlive a killed agent): %s", exc)
        return None
    assert proc.stdin is not None
    pipe: IO[bytes] = proc.stdin
    lock = threading.Lock()

    def tell(started: bool, pgid: int) -> None:
        with lock, contextlib.suppress(OSError, ValueError):
            pipe.write(f"{'+' if started else '-'}{pgid}\n".encode())
            pipe.flush()

    TASK_GROUPS.follow(tell)
    return proc


def reap(lines: IO[bytes]) -> int:
    """Follow the announcements until the pipe ends, then kill what is left; the count."""
    groups: set[int] = set()
    for raw in lines:
        text = raw.strip()
        if len(text) < 2 or not text[1:].isdigit():
            continue
        pgid = int(text[1:])
        if text[:1] == b"+":
            groups.add(pgid)
        else:
            groups.discard(pgid)
    killed = 0
    for pgid in groups:
        killed += signal_group(pgid, signal.SIGKILL)
    return killed


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # it ends when the agent has: its stdin says when
    reap(sys.stdin.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
