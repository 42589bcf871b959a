"""W1: 1000 independent tasks, each runs `true`, 4 at a time; target within 2x of `make -j4`.

.venv/bin/python benchmarks/bench_w1_independent.py [--runs 5] [--cli-runs 3]
"""

from __future__ import annotations

import argparse

from harness import shell_benchmark

TASKS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=3)
    args = parser.parse_args()
    tasks = [(f"t{i:04d}", []) for i in range(1, TASKS + 1)]
    shell_benchmark("W1", tasks, jobs=4, target_ratio=2.0, runs=args.runs, cli_runs=args.cli_runs)


if __name__ == "__main__":
    main()
