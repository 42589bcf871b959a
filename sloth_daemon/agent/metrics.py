"""What an agent reports about its machine: heartbeat metrics (psutil), facts, modules."""

from __future__ import annotations

import os
import shutil
import time

import psutil

from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_engine.modules import MODULE_NAMES
from sloth_engine.modules.facts_mod import all_facts
from sloth_engine.modules.tools import found_here

TOOLS = ("git", "docker", "systemctl", "apt-get", "dnf", "yum", "apk", "make")
"""Command-line tools whose presence decides whether the wrapper modules can work."""


def metrics(running_tasks: int) -> apb.Metrics:
    mem = psutil.virtual_memory()
    try:
        disk = psutil.disk_usage("/")
        disk_total, disk_used, disk_percent = disk.total, disk.used, disk.percent
    except OSError:
        disk_total = disk_used = 0
        disk_percent = 0.0
    try:
        load1, load5, load15 = os.getloadavg()
    except OSError:
        load1 = load5 = load15 = 0.0
    return apb.Metrics(
        cpu_percent=psutil.cpu_percent(interval=None),
        mem_percent=mem.percent,
        mem_total=mem.total,
        mem_used=mem.used,
        disk_percent=disk_percent,
        disk_total=disk_total,
        disk_used=disk_used,
        load1=load1,
        load5=load5,
        load15=load15,
        uptime_s=time.time() - psutil.boot_time(),
        running_tasks=running_tasks,
        ts=time.time(),
    )


def facts() -> dict:
    """The same table the Lua `facts.get_all()` gives on this machine."""

    return all_facts()


def modules() -> list[str]:
    """The module names, then `tool:NAME` for each program of the modules found on PATH."""
    found = sorted(set(found_here()) | {t for t in TOOLS if shutil.which(t)})
    return list(MODULE_NAMES) + [f"tool:{t}" for t in found]
