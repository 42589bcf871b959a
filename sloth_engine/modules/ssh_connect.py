"""Opening an SSH connection (asyncssh), the host key verified against a known_hosts file.

A host must have an entry in the known_hosts file (default ~/.ssh/known_hosts), or the
connection is refused. `accept_new_host_key = true` accepts the key of a host that has no
entry at all and appends it to the file (OpenSSH's `accept-new`); a host whose entry holds
another key is always refused. Verification is never switched off.
"""

from __future__ import annotations

import os

import asyncssh

from sloth_engine.modules.ssh_client import Target, host_pattern


class _Client(asyncssh.SSHClient):
    """Called by asyncssh only for a key the known_hosts file does not trust."""

    def __init__(self, known_hosts: str, accept_new: bool) -> None:
        self.known_hosts, self.accept_new = known_hosts, accept_new
        self.accepted: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        if not self.accept_new:
            return False
        if os.path.exists(self.known_hosts):
            trusted, cas, *_ = asyncssh.read_known_hosts(self.known_hosts).match(host, addr, port)
            if trusted or cas:
                return False  # the host is known with another key: never replaced silently
        self.accepted = key
        return True


def _remember(target: Target, key: asyncssh.SSHKey) -> None:
    """Append a newly accepted host key to the known_hosts file."""
    os.makedirs(os.path.dirname(target.known_hosts) or ".", mode=0o700, exist_ok=True)
    line = f"{host_pattern(target.host, target.port)} {key.export_public_key().decode().split()[0]}"
    line += " " + key.export_public_key().decode().split()[1]
    with open(target.known_hosts, "a", encoding="utf-8") as out:
        out.write(line + "\n")


async def open_connection(target: Target) -> asyncssh.SSHClientConnection:
    client = _Client(target.known_hosts, target.accept_new)
    try:
        conn = await asyncssh.connect(**target.options(client))
    except asyncssh.HostKeyNotVerifiable as exc:
        raise asyncssh.HostKeyNotVerifiable(
            f"host key of {host_pattern(target.host, target.port)} is not trusted by "
            f"{target.known_hosts} ({exc.reason}); add it there, or pass accept_new_host_key = true "
            "for a host that has no entry yet"
        ) from None
    if client.accepted is not None:
        _remember(target, client.accepted)
    return conn
