"""`facts`: facts about this machine, through psutil and platform.

`get_all()` is `{hostname, platform = {os, release, arch, ...}, cpu = {count, percent},
memory = {total, available, used, free, percent, used_percent}, disk = {total, used, free,
percent, mountpoint}, network = {interfaces = {...}}, uptime, load = {l1, l5, l15}, kernel}`.
`get_disk({mountpoint = "/home"})` reports that filesystem ("/" by default); `get_network()`
is the list of interfaces, `get_network({interface = "eth0"})` one of them (nil, message when
absent). The CPU percent never blocks: it covers the time since the previous reading.
`{agent = name}` asks for another machine's facts, which needs a master: an error for now.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv


def _options(opts: Any) -> dict[str, Any]:
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise ModuleError("facts: options must be a table")
    agent = opts.get("agent")
    if agent:
        raise ModuleError(f"facts of agent '{agent}' need a master (--master)")
    return opts


def hostname() -> str:
    return socket.gethostname()


def platform_facts() -> dict[str, Any]:
    uname = platform.uname()
    info = {
        "os": uname.system.lower(),
        "release": uname.release,
        "arch": uname.machine,
        "architecture": uname.machine,
        "kernel": uname.system,
        "kernel_version": uname.release,
    }
    try:
        release = platform.freedesktop_os_release()
        info.update(
            family=release.get("ID_LIKE", release.get("ID", "")),
            distribution=release.get("ID", ""),
            version=release.get("VERSION_ID", ""),
        )
    except OSError:
        info.update(family="", distribution="", version=platform.version())
    return info


def memory() -> dict[str, Any]:
    import psutil

    mem = psutil.virtual_memory()
    return {
        "total": mem.total,
        "available": mem.available,
        "used": mem.used,
        "free": mem.free,
        "percent": mem.percent,
        "used_percent": mem.percent,
    }


def disk(mountpoint: str = "/") -> dict[str, Any]:
    import psutil

    usage = psutil.disk_usage(mountpoint)
    return {
        "mountpoint": mountpoint,
        "total": usage.total,
        "used": usage.used,
        "free": usage.free,
        "percent": usage.percent,
    }


def interfaces() -> list[dict[str, Any]]:
    import psutil

    stats = psutil.net_if_stats()
    result = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        stat = stats.get(name)
        ips = [a.address for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)]
        macs = [a.address for a in addrs if a.family == psutil.AF_LINK]
        result.append(
            {
                "name": name,
                "addresses": ips,
                "mac": macs[0] if macs else "",
                "up": bool(stat and stat.isup),
                "mtu": stat.mtu if stat else 0,
                "speed": stat.speed if stat else 0,
            }
        )
    return result


def uptime() -> float:
    import psutil

    return max(0.0, time.time() - psutil.boot_time())


def load() -> dict[str, float]:
    l1, l5, l15 = os.getloadavg()
    return {"l1": l1, "l5": l5, "l15": l15}


def cpu() -> dict[str, Any]:
    import psutil

    return {"count": psutil.cpu_count() or 0, "percent": psutil.cpu_percent(interval=None)}


def all_facts() -> dict[str, Any]:
    return {
        "hostname": hostname(),
        "platform": platform_facts(),
        "cpu": cpu(),
        "memory": memory(),
        "disk": disk(),
        "network": {"interfaces": interfaces()},
        "uptime": uptime(),
        "load": load(),
        "kernel": platform.release(),
    }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:

    def plain(fn: Any) -> Any:
        def call(opts: Any = None) -> Any:
            _options(opts)
            return fn()

        return guarded(call)

    def guarded(fn: Any) -> Any:
        def call(opts: Any = None) -> Any:
            import psutil

            try:
                return fn(opts)
            except psutil.Error as exc:  # not an OSError: would escape the sandbox's wrapper
                raise ModuleError(f"facts: {exc}") from None

        return call

    def get_disk(opts: Any = None) -> Any:
        options = _options(opts)
        return disk(str(options.get("mountpoint") or options.get("path") or "/"))

    def get_network(opts: Any = None) -> Any:
        wanted = _options(opts).get("interface")
        found = interfaces()
        if not wanted:
            return found
        for item in found:
            if item["name"] == wanted:
                return item
        return None, f"interface {wanted} not found"

    sandbox.set_module(
        "facts",
        {
            "get_all": plain(all_facts),
            "get_hostname": plain(hostname),
            "get_platform": plain(platform_facts),
            "get_memory": plain(memory),
            "get_disk": guarded(get_disk),
            "get_network": guarded(get_network),
            "get_uptime": plain(uptime),
            "get_load": plain(load),
            "get_kernel": plain(platform.release),
            "get_cpu": plain(cpu),
        },
    )
