"""T1 and T2: the console (sloth-tui) against a real master and agent on 127.0.0.1.

T1: launch to first useful screen. `sloth-tui --master ADDR` is started in tmux (a real
terminal) and the pane is read every 10 ms until the overview shows the agent connected and
the master's runs; median of several launches. Target: under 1 s.

T2: run detail of a 1,000-task run in flight (1000 shell tasks `sleep 0.02`, 8 at a time,
then a join). The console runs headless in this process on the real client; while the run
is in flight it counts DAG frames drawn (refreshes/s) and this process's CPU time (UI thread
plus the gRPC stream threads: the whole console). Targets: at least 10 refreshes/s, under
half a core.

    .venv/bin/python benchmarks/bench_t1_t2_console.py [--launches 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sloth_daemon.client import MasterClient  # noqa: E402
from sloth_daemon.embedded import start_embedded  # noqa: E402


def t1(address: str, launches: int) -> list[float]:
    """Seconds from launching sloth-tui in tmux to the overview showing the agent and runs."""
    socket = f"sloth-bench-t1-{os.getpid()}"
    env = "env -u COLUMNS -u LINES TERM=xterm-256color"
    times = []
    for i in range(launches):
        subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", f"c{i}", "-x", "140",
                        "-y", "40", "sleep 600"], check=True)  # fmt: skip
        start = time.perf_counter()
        command = f"{env} {sys.executable} -m sloth_tui --master {address}"
        subprocess.run(["tmux", "-L", socket, "respawn-pane", "-k", "-t", f"c{i}", command], check=True)
        while True:
            pane = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", f"c{i}"],
                                  capture_output=True, text=True).stdout  # fmt: skip
            if "connected" in pane and "bench-agent" in pane and "warmup" in pane:
                times.append(time.perf_counter() - start)
                break
            if time.perf_counter() - start > 15:
                raise SystemExit(f"T1: no useful screen after 15 s:\n{pane}")
            time.sleep(0.01)
        subprocess.run(["tmux", "-L", socket, "kill-session", "-t", f"c{i}"], check=True)
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    return times


def workflow(n: int) -> str:
    """n - 1 independent `sleep 0.02` tasks, 8 at a time, then a join."""
    return f"""
local all, sleepers = {{}}, {{}}
for i = 1, {n - 1} do
  local t = task("t" .. i):command("sleep 0.02")
  all[#all + 1] = t
  sleepers[#sleepers + 1] = t
end
all[#all + 1] = task("join"):depends_on(sleepers):command("true")
workflow.define("big"):tasks(all):config({{ max_parallel_tasks = 8 }})
"""


async def t2(address: str, tasks: int) -> dict[str, float]:
    from sloth_tui.app import SlothApp
    from sloth_tui.widgets.dag_view import DagView

    client = MasterClient(address)
    run_id = client.submit_run("big.sloth", workflow(tasks))[0].run_id
    app = SlothApp(MasterClient(address), address)
    async with app.run_test(size=(160, 50)) as pilot:
        app.open_run(run_id)
        while not getattr(app.screen, "following", False):
            await pilot.pause(0.01)
        dag = app.screen.query_one(DagView)
        run = app.screen.run
        while run.counts().get("success", 0) < 50:  # the run is well under way
            await pilot.pause(0.01)
        paints, cpu, wall = dag.paints, time.process_time(), time.perf_counter()
        done_before = run.counts().get("success", 0)
        while run.status == "running" and run.counts().get("success", 0) < tasks - 50:
            await pilot.pause(0.05)
        paints, cpu, wall = dag.paints - paints, time.process_time() - cpu, time.perf_counter() - wall
        finished = run.counts().get("success", 0) - done_before
    client.close()
    return {
        "window_s": wall,
        "refreshes_per_s": paints / wall,
        "cpu_cores": cpu / wall,
        "tasks_seen": finished,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sloth-bench-t1t2-"))
    try:
        with start_embedded(home, watch=None, agent="bench-agent") as cluster:
            with MasterClient(cluster.address) as client:
                src = "workflow.define('warmup'):tasks({ task('w'):command('true') })"
                run_id = client.submit_run("warmup.sloth", src)[0].run_id
                for _ in client.follow_run(run_id):
                    pass
            if shutil.which("tmux"):
                times = t1(cluster.address, args.launches)
                median = statistics.median(times)
                print(f"T1 launch to first useful screen: median {median:.3f} s "
                      f"(min {min(times):.3f}, max {max(times):.3f}, {len(times)} launches) "
                      f"target < 1 s: {'met' if median < 1 else 'NOT met'}")  # fmt: skip
            else:
                print("T1 skipped: tmux is not installed")
            figures = asyncio.run(t2(cluster.address, args.tasks))
            ok = figures["refreshes_per_s"] >= 10 and figures["cpu_cores"] < 0.5
            print(f"T2 run detail of a {args.tasks}-task run in flight: {figures['refreshes_per_s']:.1f} refreshes/s, "
                  f"console CPU {figures['cpu_cores']:.2f} cores over {figures['window_s']:.1f} s "
                  f"({figures['tasks_seen']:.0f} tasks finished meanwhile); "
                  f"target >= 10/s and < 0.5 core: {'met' if ok else 'NOT met'}")  # fmt: skip
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
