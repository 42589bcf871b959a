"""S1 and L1: state set/get per second in-process, and lock acquire+release latency under contention.

S1 (targets on SQLite: at least 20,000 sets/s and 100,000 gets/s): `store.state.set/get` from
Python, and `state.set/get` from a Lua loop in a sandbox (what a workflow task pays, value
conversion included). L1 (target: p99 under 5 ms): each holder loops `lock(name, wait=...)`
then `unlock`, and one sample is the time from asking for the lock to having released it, so
it includes the wait behind the other holders. Rows: one holder alone; 16 threads of one
process on 16 different locks (contending for the database); 16 threads on one lock; 16
processes on one lock (waiters stand in one line across processes, woken by the release: a
FIFO per waiter on SQLite, LISTEN/NOTIFY on PostgreSQL). Everything
again on PostgreSQL (127.0.0.1:5432/test, a scratch schema dropped afterwards) unless
`--no-pg`.

Reading the contended rows: the loop is closed (each holder asks again at once), so by Little's
law a holder waits about 16 times the cost of one grant+release; the p99 adds scheduling noise.
The line is fair: a holder that asks again queues behind the others, so each sample is about
16 hand-overs (each a wake-up of another process: on a loaded machine, a scheduling delay).

    .venv/bin/python benchmarks/bench_state.py [--runs 3] [--no-pg] [--pg URL] [--only s1|l1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import median, scratch, verdict

from sloth_engine.store import open_store

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SETS, GETS, LUA_OPS = 20_000, 100_000, 20_000
HOLDERS, LOCK_ROUNDS = 16, 100
Row = tuple[str, str, str, str]


def rate(fn: Callable[[int], Any], count: int, runs: int) -> float:
    """Median operations per second of `count` calls of fn(i)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(count):
            fn(i)
        samples.append(count / (time.perf_counter() - started))
    return median(samples)


def bench_s1(url: str, runs: int, scale: float) -> list[Row]:
    sets, gets, lua_ops = int(SETS * scale), int(GETS * scale), int(LUA_OPS * scale)
    with open_store(url) as store:
        st = store.state
        set_rate = rate(lambda i: st.set("bench", f"k{i % 1000}", i), sets, runs)
        table_rate = rate(lambda i: st.set("bench", f"t{i % 1000}", {"n": i, "tags": ["a", "b"]}), sets, runs)
        get_rate = rate(lambda i: st.get("bench", f"k{i % 1000}"), gets, runs)
        lua_set, lua_get = _lua_rates(store, lua_ops, runs)
    met = "sqlite" in url
    return [
        (
            "S1",
            "set (Python API, integer)",
            f"{set_rate:,.0f}/s",
            _target(set_rate >= 20_000, met, ">= 20,000"),
        ),
        ("S1", "set (Python API, small table)", f"{table_rate:,.0f}/s", ""),
        ("S1", "get (Python API)", f"{get_rate:,.0f}/s", _target(get_rate >= 100_000, met, ">= 100,000")),
        ("S1", "state.set from Lua", f"{lua_set:,.0f}/s", ""),
        ("S1", "state.get from Lua", f"{lua_get:,.0f}/s", ""),
    ]


def _lua_rates(store: Any, count: int, runs: int) -> tuple[float, float]:
    from sloth_engine.lua.sandbox import Sandbox
    from sloth_engine.modules import ModuleEnv, state_mod

    sandbox = Sandbox()
    state_mod.install(sandbox, ModuleEnv(store=store, namespace="bench"))
    loop_set = sandbox.load(f'for i = 1, {count} do state.set("l" .. (i % 1000), i) end', "=bench")
    loop_get = sandbox.load(f'for i = 1, {count} do state.get("l" .. (i % 1000)) end', "=bench")
    figures = []
    for fn in (loop_set, loop_get):
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            sandbox.call(fn)
            samples.append(count / (time.perf_counter() - started))
        figures.append(median(samples))
    return figures[0], figures[1]


def bench_l1(url: str, runs: int, scale: float) -> list[Row]:
    rounds = max(10, int(LOCK_ROUNDS * scale))
    rows: list[Row] = []
    with open_store(url) as store:
        cases = [
            ("1 holder alone", lambda: _threads(store, 1, rounds * 4, shared=True)),
            (f"{HOLDERS} threads, {HOLDERS} locks", lambda: _threads(store, HOLDERS, rounds, shared=False)),
            (f"{HOLDERS} threads, 1 lock", lambda: _threads(store, HOLDERS, rounds, shared=True)),
            (f"{HOLDERS} processes, 1 lock", lambda: _processes(url, HOLDERS, rounds)),
        ]
        for label, case in cases:
            samples: list[float] = []
            started = time.perf_counter()
            for _ in range(runs):
                samples += case()
            grants = len(samples) / (time.perf_counter() - started)
            p50, p99 = _percentile(samples, 50), _percentile(samples, 99)
            figure = f"p50 {p50 * 1000:.2f} ms  p99 {p99 * 1000:.2f} ms  ({grants:,.0f} grants/s)"
            rows.append(("L1", f"lock+unlock, {label}", figure, f"p99 < 5 ms: {verdict(p99 < 0.005)}"))
    return rows


def _threads(store: Any, holders: int, rounds: int, shared: bool) -> list[float]:
    samples: list[list[float]] = [[] for _ in range(holders)]
    start = threading.Barrier(holders)

    def holder(index: int) -> None:
        name = "l1" if shared else f"l1-{index}"
        start.wait()
        for _ in range(rounds):
            asked = time.perf_counter()
            grant = store.state.lock(name, f"h{index}", ttl=30, wait=60)
            store.state.unlock(name, grant.token)
            samples[index].append(time.perf_counter() - asked)

    threads = [threading.Thread(target=holder, args=(i,)) for i in range(holders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [s for per in samples for s in per]


def _processes(url: str, holders: int, rounds: int) -> list[float]:
    go = time.time() + 1.5  # every worker is up and connected before the first request
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url, str(i), str(rounds), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(holders)
    ]
    samples: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"lock worker exited {proc.returncode}")
        samples += json.loads(out)
    return samples


def worker(url: str, index: int, rounds: int, go: float) -> None:
    samples = []
    with open_store(url) as store:
        store.state.locks()  # connect before the start line
        time.sleep(max(0.0, go - time.time()))
        for _ in range(rounds):
            asked = time.perf_counter()
            grant = store.state.lock("l1-proc", f"p{index}", ttl=30, wait=120)
            store.state.unlock("l1-proc", grant.token)
            samples.append(time.perf_counter() - asked)
    print(json.dumps(samples))


def _percentile(samples: list[float], pct: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1] if pct < 100 else max(samples)


def _target(ok: bool, applies: bool, text: str) -> str:
    return f"{text}: {verdict(ok)}" if applies else ""


def _pg_schema(url: str) -> tuple[str, Callable[[], None]]:
    import psycopg2

    schema = f"bench_{uuid.uuid4().hex[:10]}"

    def drop() -> None:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()

    return f"{url}?schema={schema}", drop


def _chosen(only: str | None, url: str, runs: int, s1_scale: float, l1_scale: float) -> list[Row]:
    s1 = bench_s1(url, runs, s1_scale) if only in (None, "s1") else []
    return s1 + (bench_l1(url, runs, l1_scale) if only in (None, "l1") else [])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="repetitions per figure (median)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--pg", default=PG_URL, help="PostgreSQL server to use")
    parser.add_argument("--only", choices=("s1", "l1"), help="only this workload")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, index, rounds, go = args.worker
        worker(url, int(index), int(rounds), float(go))
        return
    rows: list[tuple[str, ...]] = []
    with scratch("state") as folder:
        url = f"sqlite:///{Path(folder) / 'state.db'}"
        rows += [("sqlite", *r) for r in _chosen(args.only, url, args.runs, 1.0, 1.0)]
    if not args.no_pg:
        url, drop = _pg_schema(args.pg)
        try:
            # PostgreSQL costs a round trip (and a commit) per call: fewer iterations, same shape.
            rows += [("postgresql", *r) for r in _chosen(args.only, url, args.runs, 0.1, 0.5)]
        finally:
            drop()
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
