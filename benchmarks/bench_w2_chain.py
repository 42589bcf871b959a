"""W2: a chain of 200 dependent tasks, each runs `true`; target within 3x of `make`.

.venv/bin/python benchmarks/bench_w2_chain.py [--runs 5] [--cli-runs 3]
"""

from __future__ import annotations

import argparse

from harness import shell_benchmark

TASKS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=3)
    args = parser.parse_args()
    tasks = [(f"t{i:03d}", [f"t{i - 1:03d}"] if i > 1 else []) for i in range(1, TASKS + 1)]
    shell_benchmark("W2", tasks, jobs=1, target_ratio=3.0, runs=args.runs, cli_runs=args.cli_runs)


if __name__ == "__main__":
    main()
