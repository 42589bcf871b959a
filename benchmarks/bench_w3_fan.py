"""W3: 1 task, then 500 in parallel (4 at a time), then 1 join; each runs `true`.
Target: within 2x of `make -j4`.

    .venv/bin/python benchmarks/bench_w3_fan.py [--runs 5] [--cli-runs 3]
"""

from __future__ import annotations

import argparse

from harness import shell_benchmark

FAN = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=3)
    args = parser.parse_args()
    middle = [f"m{i:03d}" for i in range(1, FAN + 1)]
    tasks = [("root", []), *((m, ["root"]) for m in middle), ("join", middle)]
    shell_benchmark("W3", tasks, jobs=4, target_ratio=2.0, runs=args.runs, cli_runs=args.cli_runs)


if __name__ == "__main__":
    main()
