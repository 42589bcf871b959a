"""Tracing's cost on `sloth-daemon run examples/hello_world.sloth`: off (no OTEL_* or
SLOTH_TRACE_FILE: opentelemetry is never imported) against on (SLOTH_TRACE_FILE: the SDK, a
span per run and per attempt, written as JSON lines). CPU seconds (user + system of the
process) and wall seconds, medians of interleaved runs; the machine is shared, so CPU time is
the steadier figure.

    .venv/bin/python benchmarks/bench_tracing.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from harness import REPO, SLOTH_DAEMON, child_env, median, scratch

HELLO = str(REPO / "examples" / "hello_world.sloth")


def once(env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([SLOTH_DAEMON, "run", HELLO], check=True, capture_output=True, timeout=60, env=env)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with scratch("tracing") as folder:
        off = child_env()
        for key in [k for k in off if k.startswith("OTEL_") or k == "SLOTH_TRACE_FILE"]:
            off.pop(key)
        on = {**off, "SLOTH_TRACE_FILE": str(folder / "spans.jsonl")}
        once(off), once(on)  # warm-up: the store, bytecode caches, the page cache
        samples: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
        for _ in range(args.runs):
            samples["off"].append(once(off))
            samples["on"].append(once(on))
    print("sloth-daemon run examples/hello_world.sloth (2 tasks)")
    for name, runs in samples.items():
        cpu = median([c for c, _ in runs])
        wall = median([w for _, w in runs])
        print(f"  tracing {name:3}  cpu median {cpu:.3f}s  wall median {wall:.3f}s  (n={len(runs)})")


if __name__ == "__main__":
    main()
