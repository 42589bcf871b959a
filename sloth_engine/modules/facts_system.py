"""The original's remaining `facts`: packages, services, users, processes, mounts, query.

Each takes the original's options table: `facts.get_package({name = "curl"})`,
`facts.get_service({name = "nginx"})`, `facts.get_user({username = "app"})`,
`facts.query({path = "$.memory.total"})`. On this machine they read the package manager's
database (dpkg-query, rpm, apk, pacman), `systemctl list-units`, the password database,
psutil's process table and mounts. With `{agent = name}` they answer from the facts that agent
reported to the master; an agent reports its `get_all()` facts, so packages, services and
users of another machine are an error saying so rather than an empty answer.
`get_packages` returns `{manager, installed_count, packages = {{name, version,
architecture}}}` (the original's `updates` lists are not computed: that takes a network
refresh). `query` follows a `$.a.b[0]` path through `get_all()` (the original returned the
whole document as JSON whatever the path).
"""

from __future__ import annotations

import pwd
import re
import shutil
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules.options import environment
from sloth_engine.modules.proc import run_process
from sloth_engine.modules.system_packages import detect

_LIST_ARGV = {
    "apt": ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${Architecture}\t${Status}\n"],
    "dnf": ["rpm", "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\tinstalled\n"],
    "yum": ["rpm", "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\tinstalled\n"],
    "pacman": ["pacman", "-Q"],
    "apk": ["apk", "list", "--installed"],
}
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def packages(sandbox: Sandbox) -> dict[str, Any]:
    manager = detect("facts.get_packages", for_queries=True)
    argv = _LIST_ARGV[manager.name]
    if shutil.which(argv[0]) is None:
        raise ModuleError(f"facts.get_packages: '{argv[0]}' is not installed on this machine")
    done = run_process(sandbox, argv, env=environment(), timeout=120)
    if done.exit_code != 0:
        raise ModuleError(
            f"facts.get_packages: `{argv[0]}` failed (exit {done.exit_code}): {done.stderr[-300:]}"
        )
    found = [item for line in done.stdout.splitlines() if (item := _package_line(manager.name, line))]
    return {"manager": manager.name, "installed_count": len(found), "packages": found}


def _package_line(manager: str, line: str) -> dict[str, str] | None:
    if manager == "pacman":
        name, _, version = line.partition(" ")
        return {"name": name, "version": version, "architecture": ""} if name else None
    if manager == "apk":
        first = line.split(" ", 1)[0]
        match = re.match(r"(.+?)-(\d[^-]*-r\d+)$", first)
        arch = line.split(" ")[1] if " " in line else ""
        return {"name": match.group(1), "version": match.group(2), "architecture": arch} if match else None
    parts = line.split("\t")
    if len(parts) < 4 or not parts[3].endswith("installed"):
        return None
    return {"name": parts[0], "version": parts[1], "architecture": parts[2]}


def package(sandbox: Sandbox, name: str) -> dict[str, Any]:
    for item in packages(sandbox)["packages"]:
        if item["name"] == name:
            return {**item, "installed": True}
    return {"name": name, "installed": False}


def services(sandbox: Sandbox) -> list[dict[str, str]]:
    if shutil.which("systemctl") is None:
        raise ModuleError("facts.get_services: systemctl is not installed on this machine")
    argv = ["systemctl", "list-units", "--type=service", "--all", "--no-legend", "--plain", "--no-pager"]
    done = run_process(sandbox, argv, env=environment(), timeout=60)
    if done.exit_code != 0:
        raise ModuleError(
            f"facts.get_services: systemctl failed (exit {done.exit_code}): {done.stderr[-300:]}"
        )
    out = []
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) >= 4:  # UNIT LOAD ACTIVE SUB DESCRIPTION...
            out.append({"name": words[0], "status": words[2], "state": words[3], "load": words[1]})
    return out


def service(sandbox: Sandbox, name: str) -> dict[str, str] | None:
    wanted = name if "." in name else f"{name}.service"
    return next((s for s in services(sandbox) if s["name"] in (name, wanted)), None)


def users() -> list[dict[str, str]]:
    return [
        {
            "username": e.pw_name,
            "uid": str(e.pw_uid),
            "gid": str(e.pw_gid),
            "home": e.pw_dir,
            "shell": e.pw_shell,
        }
        for e in pwd.getpwall()
    ]


def processes() -> dict[str, int]:
    import psutil

    counts = {"total": 0, "running": 0, "sleeping": 0, "zombie": 0}
    for proc in psutil.process_iter(["status"]):
        status = proc.info.get("status")
        counts["total"] += 1
        if status in counts:
            counts[status] += 1
    return counts


def mounts() -> list[dict[str, str]]:
    import psutil

    return [
        {"device": p.device, "mountpoint": p.mountpoint, "fstype": p.fstype, "options": p.opts}
        for p in psutil.disk_partitions(all=False)
    ]


def query(document: Any, path: str) -> Any:
    """The value at a `$.a.b[0]` path; nil, message when the path does not lead anywhere."""
    rest = path.strip()
    if not rest.startswith("$"):
        return None, f"facts.query: a path starts with $ (got {path!r})"
    value, pos, rest = document, 0, rest[1:]
    while pos < len(rest):
        match = _PATH_PART.match(rest, pos)
        if not match:
            return None, f"facts.query: cannot read the path {path!r} at {rest[pos:]!r}"
        key, index = match.groups()
        if key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return None, f"facts.query: nothing at {path!r}"
        pos = match.end()
    return value


def functions(
    sandbox: Sandbox,
    remote: Callable[[Any], dict[str, Any] | None],
    all_facts: Callable[[], dict[str, Any]],
) -> dict[str, Callable[..., Any]]:
    """The functions, with `remote(opts)` giving an agent's reported facts or None for here."""

    def local_only(what: str, fn: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
        def call(opts: Any = None) -> Any:
            options = opts if isinstance(opts, dict) else {}
            if remote(options) is not None:
                raise ModuleError(
                    f"facts.{what}: agents report no {what.removeprefix('get_')}; run it on the agent"
                )
            return fn(options)

        return call

    def reported(key: str, fn: Callable[[], Any]) -> Callable[..., Any]:
        def call(opts: Any = None) -> Any:
            facts = remote(opts if isinstance(opts, dict) else {})
            if facts is None:
                return fn()
            if key not in facts:
                raise ModuleError(f"facts.get_{key}: agent reported no {key}")
            return facts[key]

        return call

    def run_query(opts: Any = None) -> Any:
        options = opts if isinstance(opts, dict) else {}
        path = options.get("path")
        if not path:
            return None, "query path is required"
        facts = remote(options)
        return query(all_facts() if facts is None else facts, str(path))

    def named(key: str, opts: dict[str, Any]) -> str:
        value = opts.get(key) or opts.get("name")
        if not value:
            raise ModuleError(f"facts: {key} is required")
        return str(value)

    return {
        "get_packages": local_only("get_packages", lambda o: packages(sandbox)),
        "get_package": local_only("get_package", lambda o: package(sandbox, named("name", o))),
        "get_services": local_only("get_services", lambda o: services(sandbox)),
        "get_service": local_only("get_service", lambda o: service(sandbox, named("name", o))),
        "get_users": local_only("get_users", lambda o: users()),
        "get_user": local_only(
            "get_user", lambda o: next((u for u in users() if u["username"] == named("username", o)), None)
        ),
        "get_processes": reported("processes", processes),
        "get_mounts": reported("mounts", mounts),
        "query": run_query,
    }
