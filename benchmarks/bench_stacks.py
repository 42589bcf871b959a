"""SN1, DR1 and stack locks: snapshots, drift detection and lock acquire/release of a stack.

SN1 (target: under 50 ms each, the seed says under 100 ms): `snapshots.create` and
`snapshots.restore` of a stack of 1,000 resources (each a file resource with a path, content and
mode), through the Python API the CLI and the run lifecycle use; each figure is the median of
several calls, each call one transaction. DR1 (target: under 500 ms): `drift.detect` over 1,000
file resources on disk (stat, read, SHA-256 where the properties ask, compare, store the
report), one file drifted. Stack lock (target: under 5 ms; the seed says under 50 ms):
`locks.acquire` + `locks.release` of a free stack lock, each also recording its event
(lock.acquired / lock.released); p50 and p99 of 200 rounds. Everything again on PostgreSQL
(127.0.0.1:5432/test, a scratch schema dropped afterwards) unless `--no-pg`.

    .venv/bin/python benchmarks/bench_stacks.py [--runs 5] [--no-pg] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import median, scratch, verdict

from sloth_engine.stacks import Stacks
from sloth_engine.store import open_store
from sloth_engine.store.stack_records import checksum

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESOURCES = 1_000
LOCK_ROUNDS = 200
Row = tuple[str, str, str, str]


def build_stack(stacks: Stacks, folder: Path) -> None:
    """Stack `bench` with RESOURCES file resources whose files exist and match."""
    files = folder / "files"
    files.mkdir(exist_ok=True)
    stacks.catalog.ensure("bench")
    now = time.time()
    rows = []
    for i in range(RESOURCES):
        path = files / f"f{i:04d}.conf"
        path.write_text(f"setting={i}\n")
        path.chmod(0o644)
        props = {"path": str(path), "content": f"setting={i}\n", "mode": "0644"}
        rows.append(
            ("bench", "file", f"f{i:04d}", json.dumps(props), checksum(props), "[]", None, None, "", "active",
             None, "write", "bench", "", "r1", now, now)
        )  # fmt: skip
    with stacks.store.backend.transaction():
        stacks.resources.replace_all("bench", rows)
    stacks.catalog.set_output("bench", "url", "https://bench.example")


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def bench_sn1(stacks: Stacks, runs: int) -> list[Row]:
    create = timed(lambda: stacks.snapshots.create("bench", "bench", "bench"), runs)
    first = stacks.snapshots.list("bench")[0]
    assert first.resource_count == RESOURCES
    restore = timed(lambda: stacks.snapshots.restore("bench", first.version), runs)
    assert stacks.resources.count("bench") == RESOURCES
    c, r = median(create), median(restore)
    return [
        ("SN1", f"snapshot create, {RESOURCES} resources", _ms(c), f"< 50 ms: {verdict(c < 0.05)}"),
        ("SN1", f"snapshot restore, {RESOURCES} resources", _ms(r), f"< 50 ms: {verdict(r < 0.05)}"),
    ]


def bench_dr1(stacks: Stacks, folder: Path, runs: int) -> list[Row]:
    (folder / "files" / "f0500.conf").write_text("defaced\n")
    reports: list[Any] = []
    samples = timed(lambda: reports.append(stacks.drift.detect("bench")), runs)
    last = reports[-1]
    assert last.checked == RESOURCES and [f.resource for f in last.drifted] == ["file.f0500"], last.findings
    d = median(samples)
    return [
        (
            "DR1",
            f"drift detect, {RESOURCES} file resources (1 drifted)",
            _ms(d),
            f"< 500 ms: {verdict(d < 0.5)}",
        )
    ]


def bench_lock(stacks: Stacks) -> list[Row]:
    locks = stacks.locks
    samples = []
    for _ in range(LOCK_ROUNDS):
        started = time.perf_counter()
        locks.acquire("bench", "bench-bot", "benchmark")
        locks.release("bench", "bench-bot")
        samples.append(time.perf_counter() - started)
    p50 = statistics.median(samples)
    p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
    figure = f"p50 {_ms(p50)}, p99 {_ms(p99)}"
    return [
        ("LOCK", "stack lock acquire + release (with events)", figure, f"p99 < 5 ms: {verdict(p99 < 0.005)}")
    ]


def run_all(url: str, folder: Path, runs: int) -> list[Row]:
    with open_store(url) as store:
        stacks = Stacks(store)
        build_stack(stacks, folder)
        return bench_sn1(stacks, runs) + bench_dr1(stacks, folder, runs) + bench_lock(stacks)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure (median)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--pg", default=PG_URL, help="PostgreSQL server to use")
    args = parser.parse_args()
    rows: list[tuple[str, ...]] = []
    with scratch("stacks") as folder:
        url = f"sqlite:///{folder / 'stacks.db'}"
        rows += [("sqlite", *r) for r in run_all(url, folder, args.runs)]
        if not args.no_pg:
            pg_url, drop = _pg_schema(args.pg)
            try:
                (folder / "pg").mkdir()
                rows += [("postgresql", *r) for r in run_all(pg_url, folder / "pg", args.runs)]
            finally:
                drop()
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
