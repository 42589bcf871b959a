"""The programs each module drives, and which of them a machine has: what `agent modules`
reports (an agent sends the programs it found with its registration)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TypedDict

from sloth_engine.modules import MODULE_NAMES

MODULE_TOOLS: dict[str, tuple[str, ...]] = {
    "exec": ("sh",),
    "git": ("git",),
    "docker": ("docker",),
    "systemd": ("systemctl",),
    "pkg": ("apt-get", "dnf", "yum", "apk", "pacman", "zypper", "brew"),
    "cron": ("crontab",),
    "sysctl": ("sysctl",),
    "user": ("useradd", "usermod", "userdel", "groupadd", "gpasswd", "chpasswd", "passwd", "chage"),
    "terraform": ("terraform", "pulumi"),
    "kubernetes": ("kubectl",),
    "helm": ("helm",),
    "firewall": ("firewall-cmd", "ufw", "nft", "iptables"),
    "stow": ("stow",),
    "lvm": ("pvcreate", "vgcreate", "lvcreate", "pvs", "vgs", "lvs"),
    "raid": ("mdadm",),
    "nfs": ("exportfs",),
    "smb": ("smbpasswd", "pdbedit", "testparm"),
    "network": ("ping", "traceroute", "whois"),
    "incus": ("incus",),
    "gitops": ("git", "kubectl"),
}
"""Modules over command-line programs; the others need none (a module with several programs
works with any one of them: a firewall or a package manager, say)."""


class ModuleTools(TypedDict):
    module: str
    tools: list[str]
    found: list[str]
    missing: list[str]


def all_tools() -> list[str]:
    return sorted({tool for tools in MODULE_TOOLS.values() for tool in tools})


def found_here(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The programs of all_tools() this machine has on PATH."""
    return [tool for tool in all_tools() if which(tool)]


def report(found: set[str]) -> list[ModuleTools]:
    """Per module: its programs, those found and those missing."""
    rows: list[ModuleTools] = []
    for module in MODULE_NAMES:
        tools = MODULE_TOOLS.get(module, ())
        rows.append(
            {
                "module": module,
                "tools": list(tools),
                "found": [t for t in tools if t in found],
                "missing": [t for t in tools if t not in found],
            }
        )
    return rows
