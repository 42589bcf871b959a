"""`facts`: facts about this machine, through psutil and platform.

`get_all()` is `{hostname, platform = {os, release, arch, ...}, cpu = {count, percent},
memory = {total, available, used, free, percent, used_percent}, disk = {total, used, free,
percent, mountpoint}, network = {interfaces = {...}}, uptime, load = {l1, l5, l15}, kernel}`.
`get_disk({mountpoint = "/home"})` reports that filesystem ("/" by default); `get_network()`
is the list of interfaces, `get_network({interface = "eth0"})` one of them (nil, message when
absent). The CPU percent never blocks: it covers the time since the previous reading.
`{agent = name}` gives that agent's last reported facts, through the master (the run's
`agent_facts`); without a master it is an error. An agent reports `get_all()`'s table, so
`get_disk` of an agent is its "/" filesystem whatever the mountpoint asked. Packages, services,
users, processes, mounts and `query` are in facts_system.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, facts_system


def _options(opts: Any) -> dict[str, Any]:
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise ModuleError("facts: options must be a table")
    return opts


def _agent_facts(env: ModuleEnv, opts: Any) -> dict[str, Any] | None:
    """The facts of the agent named in `opts`, None when opts name none (this machine)."""
    agent = opts.get("agent") if isinstance(opts, dict) else None
    if not agent:
        return None
    if env.agent_facts is None:
        raise ModuleError(f"facts of agent '{agent}' need a master (--master)")
    try:
        facts = env.agent_facts(str(agent))
    except KeyError:
        raise ModuleError(f"facts: no agent named '{agent}'") from None
    if not facts:
        raise ModuleError(f"facts: agent '{agent}' has reported no facts yet")
    return facts


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

    def plain(fn: Any, key: str | None) -> Any:
        def call(opts: Any = None) -> Any:
            _options(opts)
            remote = _agent_facts(env, opts)
            if remote is not None:
                return remote if key is None else remote.get(key)
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
        remote = _agent_facts(env, opts)
        if remote is not None:
            return remote.get("disk")
        return disk(str(options.get("mountpoint") or options.get("path") or "/"))

    def get_network(opts: Any = None) -> Any:
        wanted = _options(opts).get("interface")
        remote = _agent_facts(env, opts)
        found = (remote.get("network") or {}).get("interfaces", []) if remote is not None else interfaces()
        if not wanted:
            return found
        for item in found:
            if item["name"] == wanted:
                return item
        return None, f"interface {wanted} not found"

    extra = facts_system.functions(sandbox, lambda opts: _agent_facts(env, opts), all_facts)
    sandbox.set_module(
        "facts",
        {
            "get_all": plain(all_facts, None),
            "get_hostname": plain(hostname, "hostname"),
            "get_platform": plain(platform_facts, "platform"),
            "get_memory": plain(memory, "memory"),
            "get_disk": guarded(get_disk),
            "get_network": guarded(get_network),
            "get_uptime": plain(uptime, "uptime"),
            "get_load": plain(load, "load"),
            "get_kernel": plain(platform.release, "kernel"),
            "get_cpu": plain(cpu, "cpu"),
        }
        | {name: guarded(fn) for name, fn in extra.items()},
        # An agent's facts may need a round trip to the master: off the event loop's thread.
        blocking=frozenset(
            {"get_all", "get_hostname", "get_platform", "get_memory", "get_disk", "get_network"}
            | {"get_uptime", "get_load", "get_kernel", "get_cpu"}
            | set(extra)
        ),
    )
