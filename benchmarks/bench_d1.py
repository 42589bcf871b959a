"""D1: 1000 no-op Lua tasks delegated across 4 agents, tasks/s end to end (target >= 2000/s).

End to end = from SubmitRun on the client to the run's report in the client's hands, through
a real master and 4 real agent processes on 127.0.0.1. Prints the median of several runs.

    .venv/bin/python benchmarks/bench_d1.py [--tasks 1000] [--agents 4] [--repeat 5]
"""

from __future__ import annotations

import argparse

from bench_d_common import Cluster, median, run_once

WORKFLOW = """
local tasks = {}
for i = 1, %(n)d do
  tasks[#tasks + 1] = task("t" .. i):command(function() return true end):delegate_to({ any = true })
end
workflow.define("d1"):tasks(tasks):config({ max_parallel_tasks = %(parallel)d })
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--max-tasks", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cluster = Cluster()
    try:
        cluster.start(args.agents, args.max_tasks)
        path = cluster.write(
            "d1.sloth", WORKFLOW % {"n": args.tasks, "parallel": args.agents * args.max_tasks}
        )
        with cluster.client() as client:
            run_once(client, path)  # warm-up: agents load the file once
            walls, inside, followed = [], [], []
            for _ in range(args.repeat):
                wall, result = run_once(client, path)
                assert result.status.value == "success", result.error
                assert len({t.agent for t in result.tasks}) == args.agents
                walls.append(wall)
                inside.append(result.duration_s)
                followed.append(run_once(client, path, events=True)[0])
        wall = median(walls)
        print(f"D1 {args.tasks} no-op Lua tasks over {args.agents} agents (median of {args.repeat})")
        print(f"  end to end (submit -> report): {wall:.3f}s = {args.tasks / wall:,.0f} tasks/s (target >= 2,000/s)")
        print(f"  the same, every event streamed to the client: {args.tasks / median(followed):,.0f} tasks/s")
        print(f"  inside the master's engine: {args.tasks / median(inside):,.0f} tasks/s")
        print(f"  runs: {', '.join(f'{w:.3f}' for w in walls)}")
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
