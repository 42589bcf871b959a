"""Cron expressions: five fields (minute hour day month weekday) or six with seconds first
(`*/5 * * * * *` = every five seconds, as the original's robfig/cron), in a time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sloth_engine.errors import UsageError

ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


@dataclass(frozen=True)
class CronSpec:
    expr: str
    tz: str = "UTC"

    def __post_init__(self) -> None:
        fields = self.expr.split()
        if self.expr.strip() not in ALIASES and len(fields) not in (5, 6):
            raise UsageError(
                f"cron '{self.expr}': expected 5 fields (min hour day month weekday) or 6 with seconds first"
            )
        self.zone()  # a bad zone is an error now, not at the first fire
        from croniter import croniter

        if not croniter.is_valid(self.expr, second_at_beginning=self.has_seconds):
            raise UsageError(f"cron '{self.expr}' is not a valid cron expression")

    @property
    def has_seconds(self) -> bool:
        return len(self.expr.split()) == 6

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"unknown time zone '{self.tz}' (e.g. UTC, Europe/Paris)") from None

    def next_after(self, ts: float) -> float:
        """The first fire time strictly after epoch `ts`."""
        from croniter import croniter

        start = datetime.fromtimestamp(ts, self.zone())
        return float(croniter(self.expr, start, second_at_beginning=self.has_seconds).get_next(float))

    def fires_between(self, start: float, end: float, limit: int = 1000) -> list[float]:
        """Fire times in (start, end], at most `limit` (a master counting what it missed)."""
        times: list[float] = []
        at = start
        while len(times) < limit:
            at = self.next_after(at)
            if at > end:
                break
            times.append(at)
        return times
