"""ICMP echo for `infra_test.ping`: the `ping` program when the machine has it (as the
original ran it), else echo requests sent from Python over an ICMP socket (unprivileged
datagram ICMP where the kernel allows it, raw ICMP as root)."""

from __future__ import annotations

import os
import select
import shutil
import socket
import struct
import time

from sloth_engine import process
from sloth_engine.lua.sandbox import ModuleError

REPLY_WAIT = 1.0
"""Seconds to wait for each echo reply."""


def ping(host: str, count: int) -> bool:
    """Whether `host` answered at least one of `count` echo requests."""
    if count < 1 or count > 100:
        raise ModuleError("ping: count must be between 1 and 100")
    program = shutil.which("ping")
    if program:
        argv = [program, "-c", str(count), "-W", str(int(REPLY_WAIT)), host]
        try:
            done = process.run(argv, timeout=count * (REPLY_WAIT + 1) + 5)
        except OSError:
            return False
        return done.exit_code == 0
    try:
        address = socket.gethostbyname(host)
    except OSError:
        return False
    sock = _icmp_socket()
    with sock:
        return any(_echo(sock, address, seq) for seq in range(1, count + 1))


def _icmp_socket() -> socket.socket:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            return socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
        except PermissionError:
            continue
    raise ModuleError("ping: no `ping` program and no permission for ICMP sockets (install iputils-ping)")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(sock: socket.socket, address: str, seq: int) -> bool:
    ident, payload = os.getpid() & 0xFFFF, b"sloth-runner ping"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
    try:
        sock.sendto(packet, (address, 0))
    except OSError:
        return False
    deadline = time.monotonic() + REPLY_WAIT
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return False
        data, source = sock.recvfrom(2048)
        if sock.type == socket.SOCK_RAW:
            data = data[(data[0] & 0x0F) * 4 :]  # past the IP header
        if (
            source[0] == address
            and len(data) >= 8
            and data[0] == 0
            and struct.unpack("!H", data[6:8])[0] == seq
        ):
            return True
    return False
