"""D2: 1000 `true` shell tasks across 4 agents vs `make -j4` locally (target: within 3x).

    .venv/bin/python benchmarks/bench_d2.py [--tasks 1000] [--agents 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time

from bench_d_common import Cluster, median, run_once

WORKFLOW = """
local tasks = {}
for i = 1, %(n)d do
  tasks[#tasks + 1] = task("t" .. i):command("true"):delegate_to({ any = true })
end
workflow.define("d2"):tasks(tasks):config({ max_parallel_tasks = %(parallel)d })
"""


def make_baseline(cluster: Cluster, tasks: int, repeat: int) -> float | None:
    if shutil.which("make") is None:
        return None
    names = [f"t{i}" for i in range(tasks)]
    rules = "".join(f"{n}:\n\ttrue\n" for n in names)
    makefile = cluster.write("Makefile", f"all: {' '.join(names)}\n.PHONY: all {' '.join(names)}\n{rules}")
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(["make", "-s", "-j4", "-f", str(makefile), "all"], check=True, cwd=cluster.root)
        walls.append(time.perf_counter() - started)
    return median(walls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--max-tasks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cluster = Cluster()
    try:
        cluster.start(args.agents, args.max_tasks)
        path = cluster.write("d2.sloth", WORKFLOW % {"n": args.tasks, "parallel": args.agents * args.max_tasks})
        walls, makes = [], []
        with cluster.client() as client:
            run_once(client, path)
            for _ in range(args.repeat):
                wall, result = run_once(client, path)
                assert result.status.value == "success", result.error
                walls.append(wall)
                baseline = make_baseline(cluster, args.tasks, 1)
                if baseline is not None:
                    makes.append(baseline)
        wall = median(walls)
        print(f"D2 {args.tasks} `true` shell tasks over {args.agents} agents x {args.max_tasks} slots "
              f"(median of {args.repeat})")
        print(f"  end to end: {wall:.3f}s = {args.tasks / wall:,.0f} tasks/s")
        if makes:
            make = median(makes)
            print(f"  make -j4 locally: {make:.3f}s; ratio {wall / make:.2f}x (target within 3x)")
        print(f"  runs: {', '.join(f'{w:.3f}' for w in walls)}")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
