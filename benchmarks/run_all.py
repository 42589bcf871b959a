"""Run every benchmark in turn, each in its own process, and print their figures.

.venv/bin/python benchmarks/run_all.py            # the full set: engine, store, fleet (~15 minutes)
.venv/bin/python benchmarks/run_all.py --quick    # fewer repetitions, for a smoke run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "bench_w1_independent.py": ["--runs", "5", "--cli-runs", "3"],
    "bench_w2_chain.py": ["--runs", "5", "--cli-runs", "3"],
    "bench_w3_fan.py": ["--runs", "5", "--cli-runs", "3"],
    "bench_w4_lua_noop.py": ["--runs", "5"],
    "bench_e1_process.py": ["--runs", "10"],
    "bench_p1_load.py": ["--runs", "5"],
    "bench_state.py": ["--runs", "3"],
    "bench_ev1_bus.py": ["--runs", "3"],
    "bench_d1.py": ["--repeat", "5"],
    "bench_d2.py": ["--repeat", "3"],
    "bench_d3.py": [],
    "bench_s2_remote_state.py": ["--seconds", "5"],
    "bench_stacks.py": ["--runs", "3"],
    "bench_a1_agents.py": [],
}
QUICK = {
    "bench_w1_independent.py": ["--runs", "1", "--cli-runs", "1"],
    "bench_w2_chain.py": ["--runs", "1", "--cli-runs", "1"],
    "bench_w3_fan.py": ["--runs", "1", "--cli-runs", "1"],
    "bench_w4_lua_noop.py": ["--runs", "1"],
    "bench_e1_process.py": ["--runs", "2"],
    "bench_p1_load.py": ["--runs", "1", "--loads", "50"],
    "bench_state.py": ["--runs", "1"],
    "bench_ev1_bus.py": ["--runs", "1"],
    "bench_d1.py": ["--repeat", "1"],
    "bench_d2.py": ["--repeat", "1"],
    "bench_d3.py": ["--samples", "100"],
    "bench_s2_remote_state.py": ["--seconds", "2"],
    "bench_stacks.py": ["--runs", "1"],
    "bench_a1_agents.py": ["--agents", "1000", "--steady", "10"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repetition each")
    parser.add_argument("only", nargs="*", help="run only scripts whose name contains this")
    args = parser.parse_args()
    table = QUICK if args.quick else SCRIPTS
    failed = []
    for script, extra in table.items():
        if args.only and not any(word in script for word in args.only):
            continue
        print(f"==> {script} {' '.join(extra)}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *extra], timeout=900)
        print(f"    ({time.perf_counter() - started:.1f}s)\n", flush=True)
        if proc.returncode != 0:
            failed.append(script)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
