"""D3: dispatch latency of one delegated no-op task, p50 and p99 (target p99 < 5 ms).

The master runs in this process so the dispatcher's round trip can be timed exactly: from
`Dispatcher.execute` (the engine handing over a task attempt) to its outcome, through a real
agent process on 127.0.0.1. Also timed: a whole one-task run through the client
(SubmitRun -> report), which adds loading the file, the run's store writes and the watch.

    .venv/bin/python benchmarks/bench_d3.py [--samples 1000] [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sloth_daemon.master.server import Master, MasterConfig
from sloth_engine.executor.remote import RemoteTask
from sloth_engine.spec import Placement
from sloth_engine.store import open_store
from sloth_engine.store.submissions import Submission

WORKFLOW = """
local t = task("noop"):command(function() return true end):delegate_to("d3")
workflow.define("d3"):tasks({ t })
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(samples: int, runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="sloth-d3-"))
    store = open_store(f"sqlite:///{root / 'sloth.db'}")
    master = Master(MasterConfig(listen="127.0.0.1:0", home=root), store)
    address = await master.start()
    env = {**os.environ, "SLOTH_HOME": str(root)}
    env.pop("SLOTH_MASTER", None)
    ready = root / "agent.ready"
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sloth_daemon.cli.main",
            "agent",
            "--master",
            address,
            "--name",
            "d3",
            "--heartbeat",
            "2s",
            "--ready-file",
            str(ready),
        ],
        env=env,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not ready.exists():
            await asyncio.sleep(0.02)
        master.dispatcher.add_bundle("bench", "d3.sloth", WORKFLOW, {})
        task = RemoteTask("bench", "d3", "noop", "d3.sloth", {}, {}, None, 1, Placement(agent="d3"), {})
        latencies = []
        for i in range(samples + 20):
            started = time.perf_counter()
            outcome, name = await master.dispatcher.execute(task, lambda stream, line: None)
            if i >= 20:  # the first ones load the file on the agent
                latencies.append(time.perf_counter() - started)
            assert outcome.status.value == "success" and name == "d3", outcome
        whole = []
        for i in range(runs + 3):
            started = time.perf_counter()
            plan = await master.runs.submit(Submission(path="d3.sloth", source=WORKFLOW))
            active = master.runs.active[plan.runs[0][0]]
            async for update in active.feed.follow():
                if update.WhichOneof("kind") == "finished":
                    break
            if i >= 3:
                whole.append(time.perf_counter() - started)
        ms = [x * 1000 for x in latencies]
        print(f"D3 dispatch latency of one delegated no-op Lua task ({samples} samples, one agent)")
        print(
            f"  p50 {percentile(ms, 0.5):.2f} ms  p99 {percentile(ms, 0.99):.2f} ms  "
            f"mean {statistics.mean(ms):.2f} ms  (target p99 < 5 ms)"
        )
        ms = [x * 1000 for x in whole]
        print(
            f"  whole one-task run in the master (submit, load, run, report; {runs} runs): "
            f"p50 {percentile(ms, 0.5):.2f} ms  p99 {percentile(ms, 0.99):.2f} ms"
        )
    finally:
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait()
        await master.stop()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.runs))
