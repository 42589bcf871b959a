"""The system's package manager: which one is here, and the commands of each.

apt (Debian, Ubuntu: apt-get and dpkg-query), dnf or yum (Fedora, RHEL: rpm for queries), apk
(Alpine) and pacman (Arch), looked for in that order on PATH. Used by `pkg` and by
`infra_test.package_is_installed`.
"""

from __future__ import annotations

import shutil
from typing import NamedTuple

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules.options import environment
from sloth_engine.modules.proc import run_process


class Manager(NamedTuple):
    name: str
    tool: str
    """The command that installs."""
    query: str
    """The command that says what is installed."""
    install: tuple[str, ...]
    remove: tuple[str, ...]
    purge: tuple[str, ...]
    update: tuple[str, ...]
    upgrade: tuple[str, ...]
    latest: tuple[str, ...]
    """Install or bring to the newest version."""


MANAGERS = (
    Manager(
        "apt",
        "apt-get",
        "dpkg-query",
        ("install", "-y", "-q"),
        ("remove", "-y", "-q"),
        ("purge", "-y", "-q"),
        ("update", "-q"),
        ("upgrade", "-y", "-q"),
        ("install", "-y", "-q", "--only-upgrade"),
    ),
    Manager(
        "dnf",
        "dnf",
        "rpm",
        ("install", "-y"),
        ("remove", "-y"),
        ("remove", "-y"),
        ("makecache",),
        ("upgrade", "-y"),
        ("upgrade", "-y"),
    ),
    Manager(
        "yum",
        "yum",
        "rpm",
        ("install", "-y"),
        ("remove", "-y"),
        ("remove", "-y"),
        ("makecache",),
        ("update", "-y"),
        ("update", "-y"),
    ),
    Manager(
        "apk",
        "apk",
        "apk",
        ("add", "--no-progress"),
        ("del", "--no-progress"),
        ("del", "--purge", "--no-progress"),
        ("update",),
        ("upgrade", "--no-progress"),
        ("add", "--upgrade", "--no-progress"),
    ),
    Manager(
        "pacman",
        "pacman",
        "pacman",
        ("-S", "--noconfirm", "--needed"),
        ("-R", "--noconfirm"),
        ("-Rns", "--noconfirm"),
        ("-Sy",),
        ("-Syu", "--noconfirm"),
        ("-S", "--noconfirm"),
    ),
)
BY_NAME = {m.name: m for m in MANAGERS} | {"apt-get": MANAGERS[0]}
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def detect(where: str, wanted: str | None = None, *, for_queries: bool = False) -> Manager:
    """The manager asked for, else the first one found on PATH; a clear error when none is."""
    if wanted:
        manager = BY_NAME.get(wanted)
        if manager is None:
            raise ModuleError(f"{where}: unknown package manager {wanted!r} (apt, dnf, yum, apk, pacman)")
        return manager
    for manager in MANAGERS:
        if shutil.which(manager.query if for_queries else manager.tool):
            return manager
    looked = ", ".join(dict.fromkeys(m.query if for_queries else m.tool for m in MANAGERS))
    raise ModuleError(f"{where}: no supported package manager found on this machine (looked for {looked})")


def query_argv(manager: Manager, name: str) -> list[str]:
    if manager.name == "apt":
        return ["dpkg-query", "-W", "-f=${Status}\t${Version}", name]
    if manager.query == "rpm":
        return ["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", name]
    if manager.name == "apk":
        return ["apk", "list", "--installed", name]
    return ["pacman", "-Q", name]


def parse_version(manager: Manager, name: str, exit_code: int, stdout: str) -> str | None:
    """The installed version from a query's answer, None when not installed."""
    if exit_code != 0:
        return None
    text = stdout.strip()
    if manager.name == "apt":
        status, _, version = text.partition("\t")
        return version if status.endswith(" installed") else None
    if manager.query == "rpm":
        return text or None
    if manager.name == "apk":
        for line in text.splitlines():
            first = line.split(" ", 1)[0]
            if first.startswith(name + "-") and "[installed]" in line:
                return first[len(name) + 1 :]
        return None
    parts = text.split()
    return parts[1] if len(parts) >= 2 else None


def installed_version(sandbox: Sandbox, name: str, where: str, manager: Manager | None = None) -> str | None:
    """The version of an installed package, None when it is not installed."""
    manager = manager or detect(where, for_queries=True)
    if shutil.which(manager.query) is None:
        raise ModuleError(f"{where}: '{manager.query}' is not installed on this machine (not found on PATH)")
    done = run_process(sandbox, query_argv(manager, name), env=environment(), timeout=60)
    return parse_version(manager, name, done.exit_code, done.stdout)
