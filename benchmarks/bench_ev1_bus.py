"""EV1: events per second through the bus with 10 hooks registered, and no event lost.

Each event is published with `EventBus.publish` (persisted in the events table), then handed
to the 10 hooks that match it; a hook is a sandboxed Lua file run by the bus's worker pool,
and each of its runs is recorded in hook_executions. A figure is the time from the first
publish to the last execution recorded (`drain`), for EVENTS events, so it counts
EVENTS x 10 hook runs. Producers wait when the queue is full (back-pressure) rather than
drop, so every run must find all events in the store and EVENTS x 10 successful executions;
the script fails otherwise. Rows: no hooks (persisting only), 10 hooks with the master's
default pool (4 workers, 1,000 events queued), and the seed dispatcher's figure
(100 workers, 1,000 events queued). Lua hooks hold the GIL while they run, so more workers
only help hooks that wait (exec.run, http); `--workers 1,2,8` shows the curve. On SQLite in a scratch folder.
Each row also gives the process's CPU time (user + system, every thread) over the same span:
on a shared machine the wall time swings with the neighbours, the CPU time much less.

    .venv/bin/python benchmarks/bench_ev1_bus.py [--runs 3] [--events 2000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from harness import median, scratch

from sloth_engine.events import EventBus, HookStore
from sloth_engine.store import open_store

HOOKS = 10
HOOK_SOURCE = """
function on_event(event)
  local n = event.data.i + 1
  return n > 0
end
"""


def cpu_seconds() -> float:
    """User + system CPU of this process (every thread) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(url: str, events: int, hooks: int, workers: int, queue: int) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, events stored, successful hook runs) for one batch of events."""
    with open_store(url) as store:
        store.backend.execute("DELETE FROM events")
        store.backend.execute("DELETE FROM hook_executions")
        store.backend.execute("DELETE FROM hooks")
        for i in range(hooks):
            HookStore(store).add(f"h{i}", HOOK_SOURCE, ["bench.*"], timeout_s=10)
        bus = EventBus(store, workers=workers, queue_size=queue, put_timeout=60.0)
        bus.publish("bench.warmup", {"i": -1})  # start the workers and load the hooks
        bus.drain(60)
        started, cpu = time.perf_counter(), cpu_seconds()
        for i in range(events):
            bus.publish("bench.event", {"i": i, "host": "web-1"}, source="bench")
        bus.drain(300)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        bus.close()
        stored = store.backend.query_one("SELECT COUNT(*) FROM events WHERE type = 'bench.event'")[0]
        ran = store.backend.query_one(
            "SELECT COUNT(*) FROM hook_executions WHERE event_type = 'bench.event' AND outcome = 'success'"
        )[0]
        return elapsed, cpu, stored, ran


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", default="", help="more rows: worker counts, e.g. 1,2,8")
    args = parser.parse_args()
    counts = [4, 100] + [int(w) for w in args.workers.split(",") if w.strip()]
    rows = [("no hooks (persist only)", 0, 8, 1000)]
    rows += [(f"10 hooks, {w} workers", HOOKS, w, 1000) for w in counts]
    lost = False
    with scratch("ev1") as folder:
        url = f"sqlite:///{Path(folder) / 'events.db'}"
        print(f"EV1: {args.events} events, median of {args.runs} runs (queue 1,000 events)")
        for label, hooks, workers, queue in rows:
            samples, cpus = [], []
            for _ in range(args.runs):
                elapsed, cpu, stored, ran = one_run(url, args.events, hooks, workers, queue)
                samples.append(elapsed)
                cpus.append(cpu)
                if stored != args.events or ran != args.events * hooks:
                    lost = True
                    print(
                        f"  LOST: {stored}/{args.events} events stored, {ran}/{args.events * hooks} hook runs"
                    )
            seconds = median(samples)
            runs = f", {args.events * hooks / seconds:,.0f} hook runs/s" if hooks else ""
            cpu = median(cpus)
            print(
                f"  {label:<26} {args.events / seconds:>8,.0f} events/s{runs}  (median {seconds:.3f}s;"
                f" CPU {cpu:.3f}s, {args.events / cpu:,.0f} events per CPU second)"
            )
    print("no event lost" if not lost else "EVENTS LOST")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
