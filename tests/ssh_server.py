"""A real OpenSSH server (Debian's /usr/sbin/sshd) for tests: started on 127.0.0.1 with its
own host key, authorized_keys and config (test_ssh_module.py, test_agent_install.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass
class Server:
    port: int
    root: Path
    client_key: Path
    host_key: Path
    known_hosts: Path
    authorized: Path


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start_sshd(root: Path, config: str) -> tuple[subprocess.Popen[bytes], int]:
    for _ in range(5):  # a port taken between the probe and sshd's bind: try another
        port = free_port()
        (root / "sshd_config").write_text(config.format(port=port))
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")], stderr=subprocess.PIPE)
        if listening(port, proc, time.monotonic() + 20):
            return proc, port
        proc.kill()
        proc.wait(10)
    raise RuntimeError("sshd did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))
