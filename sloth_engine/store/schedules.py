"""The `schedules` table (raw SQL on the store's backend); the cron maths is sloth_engine.scheduler.cron."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from sloth_engine.errors import NotFound, UsageError
from sloth_engine.scheduler.cron import CronSpec
from sloth_engine.store import Store

Overlap = Literal["skip", "queue", "allow"]
CatchUp = Literal["once", "none"]
OVERLAPS = ("skip", "queue", "allow")
CATCH_UPS = ("once", "none")

_FIELDS = (
    "name",
    "cron",
    "file",
    "workflow",
    "values_file",
    "tz",
    "overlap",
    "catch_up",
    "enabled",
    "next_fire_at",
    "last_fire_at",
    "last_run_id",
    "created_at",
    "updated_at",
)


class ScheduleDef(NamedTuple):
    name: str
    cron: str
    file: str
    workflow: str
    values_file: str | None
    tz: str
    overlap: str
    catch_up: str
    enabled: bool
    next_fire_at: float | None
    last_fire_at: float | None
    last_run_id: str | None
    created_at: float
    updated_at: float

    @property
    def spec(self) -> CronSpec:
        return CronSpec(self.cron, self.tz)


class ScheduleStore:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._b = store.backend
        self.clock = clock
        self._select = f"SELECT {', '.join(_FIELDS)} FROM schedules"

    def add(
        self,
        name: str,
        cron: str,
        file: str,
        *,
        workflow: str = "",
        values_file: str | None = None,
        tz: str = "UTC",
        overlap: str = "skip",
        catch_up: str = "none",
        replace: bool = False,
    ) -> ScheduleDef:
        if not name.strip():
            raise UsageError("a schedule needs a name")
        if overlap not in OVERLAPS:
            raise UsageError(f"--overlap must be one of {', '.join(OVERLAPS)}")
        if catch_up not in CATCH_UPS:
            raise UsageError(f"--catch-up must be one of {', '.join(CATCH_UPS)}")
        now = self.clock()
        next_at = CronSpec(cron, tz).next_after(now)
        row = (
            name,
            cron,
            file,
            workflow,
            values_file,
            tz,
            overlap,
            catch_up,
            1,
            next_at,
            None,
            None,
            now,
            now,
        )
        b = self._b
        with b.transaction():
            exists = b.query_one(b.sql("SELECT 1 FROM schedules WHERE name = ?"), (name,))
            if exists and not replace:
                raise UsageError(f"schedule '{name}' exists already (delete it first, or use --replace)")
            b.execute(b.sql("DELETE FROM schedules WHERE name = ?"), (name,))
            b.execute(
                b.sql(f"INSERT INTO schedules ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * 14)})"), row
            )
        return self.get(name)

    def get(self, name: str) -> ScheduleDef:
        row = self._b.query_one(self._b.sql(self._select + " WHERE name = ?"), (name,))
        if row is None:
            raise NotFound(f"no schedule named '{name}'")
        return _schedule(row)

    def list(self, enabled_only: bool = False) -> list[ScheduleDef]:
        where = " WHERE enabled = 1" if enabled_only else ""
        return [_schedule(r) for r in self._b.query_all(self._select + where + " ORDER BY name")]

    def delete(self, name: str) -> None:
        if not self._b.write(self._b.sql("DELETE FROM schedules WHERE name = ? RETURNING name"), (name,)):
            raise NotFound(f"no schedule named '{name}'")

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enabling starts counting from now: fires missed while disabled are not missed."""
        schedule = self.get(name)
        next_at = schedule.spec.next_after(self.clock()) if enabled else schedule.next_fire_at
        sql = "UPDATE schedules SET enabled = ?, next_fire_at = ?, updated_at = ? WHERE name = ?"
        self._b.execute(self._b.sql(sql), (1 if enabled else 0, next_at, self.clock(), name))

    def set_next(self, name: str, next_fire_at: float) -> None:
        self._b.execute(
            self._b.sql("UPDATE schedules SET next_fire_at = ? WHERE name = ?"), (next_fire_at, name)
        )

    def fired(self, name: str, fired_at: float, run_ids: Sequence[str]) -> None:
        sql = "UPDATE schedules SET last_fire_at = ?, last_run_id = ? WHERE name = ?"
        self._b.execute(self._b.sql(sql), (fired_at, ",".join(run_ids) or None, name))


def _schedule(row: Sequence[Any]) -> ScheduleDef:
    item = dict(zip(_FIELDS, row, strict=True))
    item["enabled"] = bool(item["enabled"])
    return ScheduleDef(**item)
