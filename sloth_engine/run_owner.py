"""Who executes a run: the owning process, recorded on the run's row when the run starts.

A run whose owner is gone (killed, its machine rebooted) will never record its end; the next
command that lists runs, or a master starting, finds it by this record and marks it
`abandoned`. The owner is judged only on its own host: the boot id tells a reboot apart, and
the process's start time tells a pid that was reused by another process apart.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
START_TOLERANCE_S = 1.0
"""Two readings of one process's start time agree within this (it is computed from ticks)."""


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str
    pid: int
    started: float


def boot_id() -> str:
    try:
        with open(BOOT_ID_FILE, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> float | None:
    """The process's start time (epoch seconds, as psutil's create_time), None when it is gone."""
    if os.path.isdir("/proc/self"):
        return _proc_start_time(pid)
    import psutil  # lazy: start-up (~10 ms per run; Linux reads /proc instead)

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None  # dead, only not reaped yet
        return float(process.create_time())
    except (psutil.Error, OSError):
        return None


def _proc_start_time(pid: int) -> float | None:
    """/proc/PID/stat's start time in clock ticks after boot, plus /proc/stat's btime."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
        state, ticks = fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None
    if state in (b"Z", b"X"):
        return None  # dead, only not reaped yet
    boot = _boot_time()
    return None if boot is None else boot + ticks / os.sysconf("SC_CLK_TCK")


_BOOT_TIME: list[float] = []


def _boot_time() -> float | None:
    if not _BOOT_TIME:
        try:
            with open("/proc/stat", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("btime"):
                        _BOOT_TIME.append(float(line.split()[1]))
                        break
        except (OSError, ValueError):
            return None
    return _BOOT_TIME[0] if _BOOT_TIME else None


def current_owner() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), boot_id(), pid, _start_time(pid) or 0.0)


def owner_gone(row: dict[str, Any], here: Owner | None = None) -> bool:
    """True when the run's recorded owner surely no longer runs (False when unknown)."""
    pid = row.get("owner_pid")
    if not pid:
        return False  # recorded before owners were: nobody can tell
    here = here or current_owner()
    if row.get("owner_host") != here.host:
        return False  # another machine's process: only that machine can judge it
    if row.get("owner_boot") and here.boot and row["owner_boot"] != here.boot:
        return True  # the machine rebooted since: every process of then is gone
    started = _start_time(int(pid))
    if started is None:
        return True
    recorded = row.get("owner_started") or 0.0
    return bool(recorded) and abs(started - recorded) > START_TOLERANCE_S
