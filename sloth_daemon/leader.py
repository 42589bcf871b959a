"""Following the leader among several masters (HA): `--master a:50053,b:50053,c:50053`.

A standby refuses writes with FAILED_PRECONDITION and the leader's address in the trailing
metadata `sloth-leader`; while no master leads (an election, a new leader resuming runs) it
answers UNAVAILABLE. Clients and agents keep a `MasterList`: they go to the named leader, or
try the next address of the list.
"""

from __future__ import annotations

from typing import Any

from sloth_engine.errors import UsageError

LEADER_KEY = "sloth-leader"
STATUS_METHOD = "/sloth.v1.HaService/GetStatus"
HA_KEEPALIVE = [
    ("grpc.keepalive_time_ms", 1000),
    ("grpc.keepalive_timeout_ms", 2000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.min_time_between_pings_ms", 1000),
    ("grpc.http2.min_ping_interval_without_data_ms", 1000),
]
"""Channel options with several masters: a paused or cut-off leader is noticed in ~3 s."""


def channel_options(base: list[tuple[str, Any]], several: bool) -> list[tuple[str, Any]]:
    """`base`, with the HA keepalive replacing its own when there are several masters."""
    if not several:
        return base
    keys = {k for k, _ in HA_KEEPALIVE}
    return [o for o in base if o[0] not in keys] + HA_KEEPALIVE


def parse_masters(text: str) -> list[str]:
    addresses = [a.strip() for a in text.split(",") if a.strip()]
    if not addresses:
        raise UsageError(f"no master address in '{text}'")
    return addresses


def leader_of(exc: Any) -> str | None:
    """The leader's address a standby named in its refusal, if any."""
    trailing = getattr(exc, "trailing_metadata", None)
    try:
        pairs = trailing() if callable(trailing) else None
    except Exception:  # a failed call without metadata
        return None
    for key, value in pairs or ():
        if key == LEADER_KEY and value:
            return str(value)
    return None


class MasterList:
    """The addresses given, and the one in use."""

    def __init__(self, text: str) -> None:
        self.addresses = parse_masters(text)
        self.current = self.addresses[0]
        self._next = 1

    @property
    def several(self) -> bool:
        return len(self.addresses) > 1

    def follow(self, exc: Any, code_name: str) -> bool:
        """Move to the leader named in `exc`, or to the next address when the one in use is
        unreachable or has no leader to name; False when there is nowhere else to go."""
        leader = leader_of(exc)
        if leader and leader != self.current:
            self.current = leader
            return True
        if code_name == "UNAVAILABLE" and self.several:
            for _ in self.addresses:
                candidate = self.addresses[self._next % len(self.addresses)]
                self._next += 1
                if candidate != self.current:
                    self.current = candidate
                    return True
        return False
