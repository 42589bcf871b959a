"""The master's scheduler: fires the store's schedules through the run service.

Each tick reads the enabled schedules (one query, so `scheduler add/enable/disable` from the
CLI take effect at the next tick) and fires those whose time came. `--overlap skip` never
starts a run while the schedule's previous one is going (`schedule.skipped`), `queue` fires
once more when it ends, `allow` always fires. At start, a schedule whose time passed while no
master ran raises `schedule.missed` and, with `--catch-up once`, fires once now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sloth_engine.dsl import read_source
from sloth_engine.errors import SlothError, StoreError
from sloth_engine.store import Store
from sloth_engine.store.retry import trouble
from sloth_engine.store.schedules import ScheduleDef, ScheduleStore
from sloth_engine.store.submissions import Submission
from sloth_engine.values_file import read_values

log = logging.getLogger(__name__)

TICK = 0.1
"""Seconds between two looks at the schedules: a fire is at most this late (plus load)."""
STORE_DOWN_PAUSE = 1.0
"""Seconds between two ticks while they fail (the store down, the role locked out)."""
MISSED_GRACE = 1.0
"""A fire time this far in the past at start was missed (not just due now)."""


class SchedulerLoop:
    def __init__(
        self,
        store: Store,
        runs: Any,
        bus: Any,
        catalog: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedules = ScheduleStore(store, clock)
        self.runs = runs
        self.bus = bus
        self.catalog = catalog
        self.clock = clock
        self.last_runs: dict[str, list[str]] = {}
        self.queued: set[str] = set()

    async def run(self) -> None:
        """Catch up, then fire schedules until cancelled."""
        await self.catch_up()
        while True:
            pause = TICK
            try:
                await self.tick()
            except StoreError as exc:  # the store is away: one line per interval, a slower pace
                trouble(log, "scheduler: the store is unavailable, schedules wait", exc)
                pause = STORE_DOWN_PAUSE
            except Exception:  # a bad schedule must not stop the scheduler
                log.exception("scheduler tick failed")
                pause = STORE_DOWN_PAUSE
            await asyncio.sleep(pause)

    async def catch_up(self) -> None:
        now = self.clock()
        for schedule in await asyncio.to_thread(self.schedules.list, True):
            due = schedule.next_fire_at
            if due is None or due > now - MISSED_GRACE:
                continue
            missed = schedule.spec.fires_between(due - 1e-6, now)
            data = {
                "schedule": schedule.name,
                "missed": len(missed),
                "first": due,
                "catch_up": schedule.catch_up,
            }
            self.bus.publish("schedule.missed", data, severity="warning", source="scheduler")
            self.schedules.set_next(schedule.name, schedule.spec.next_after(now))
            if schedule.catch_up == "once":
                await self.fire(schedule, scheduled_at=due, catch_up=True)

    async def tick(self) -> None:
        now = self.clock()
        for schedule in await asyncio.to_thread(self.schedules.list, True):
            if schedule.name in self.queued and not self.running(schedule):
                self.queued.discard(schedule.name)
                await self.fire(schedule, scheduled_at=now, queued=True)
            due = schedule.next_fire_at
            if due is None or due > now:
                continue
            self.schedules.set_next(schedule.name, schedule.spec.next_after(max(now, due)))
            await self.trigger(schedule, due)

    async def trigger(self, schedule: ScheduleDef, due: float) -> None:
        if self.running(schedule) and schedule.overlap != "allow":
            if schedule.overlap == "queue":
                self.queued.add(schedule.name)
            data = {"schedule": schedule.name, "scheduled_at": due, "overlap": schedule.overlap}
            data["running"] = self.last_runs.get(schedule.name, [])
            self.bus.publish("schedule.skipped", data, source="scheduler")
            return
        await self.fire(schedule, scheduled_at=due)

    def running(self, schedule: ScheduleDef) -> bool:
        """Whether a run of the schedule's last fire is still going (also after a restart)."""
        run_ids = self.last_runs.get(schedule.name)
        if run_ids is None:
            run_ids = (schedule.last_run_id or "").split(",")
        for run_id in run_ids:
            active = self.runs.active.get(run_id)
            if active is not None and active.result is None:
                return True
        return False

    async def fire(self, schedule: ScheduleDef, scheduled_at: float | None = None, **why: Any) -> list[str]:
        """Submit the schedule's workflow now; the run ids (an error becomes schedule.failed)."""
        now = self.clock()
        try:
            submission = await asyncio.to_thread(self._submission, schedule)
            plan = await self.runs.submit(submission)
        except SlothError as exc:
            failed = {"schedule": schedule.name, "error": str(exc)}
            self.bus.publish("schedule.failed", failed, severity="error", source="scheduler")
            if why.get("manual"):
                raise
            return []
        run_ids = [r[0] for r in plan.runs]
        self.last_runs[schedule.name] = run_ids
        self.schedules.fired(schedule.name, now, run_ids)
        data: dict[str, Any] = {
            "schedule": schedule.name, "run_ids": run_ids, "scheduled_at": scheduled_at or now, **why
        }  # fmt: skip
        data["fired_at"] = now  # the submission (loading the file) comes between this and the event
        self.bus.publish(
            "schedule.triggered", data, source="scheduler", run_id=run_ids[0] if run_ids else None
        )
        return run_ids

    async def fire_now(self, name: str) -> list[str]:
        """`scheduler run NAME`: fire regardless of the time and of overlap."""
        schedule = await asyncio.to_thread(self.schedules.get, name)
        return await self.fire(schedule, manual=True)

    def _submission(self, schedule: ScheduleDef) -> Submission:
        source = self.catalog.source_for(schedule.file) if self.catalog is not None else None
        if source is None:
            source = read_source(Path(schedule.file))
        values = read_values(schedule.values_file) if schedule.values_file else {}
        return Submission(path=schedule.file, source=source, workflow=schedule.workflow, values=values)
