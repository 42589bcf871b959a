"""A1: many simulated agents heartbeating against one master (target: 10,000 held, heartbeat
p99 < 50 ms, registration burst >= 1,000 agents/s; master CPU and RSS reported).

The driver starts a real `sloth-daemon master` and a simulator process (this file with
--simulate) that opens one Connect stream per simulated agent (100 agents per HTTP/2
connection), registers them all at once (at most --window registrations in flight: with many
more, grpc's Python client fails streams with "Internal error from Core"), then sends a
heartbeat from each every --interval seconds, spread evenly. Heartbeat lag (from the agent's send to the master's handling) comes
from the master's own Prometheus histogram `sloth_heartbeat_lag_seconds`.

    .venv/bin/python benchmarks/bench_a1_agents.py [--agents 10000] [--interval 30] [--steady 35]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PER_CONNECTION = 100


# ---- the simulator ------------------------------------------------------------------------


async def simulate(master: str, agents: int, interval: float, duration: float, window: int) -> None:
    import grpc

    from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
    from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc

    channels = [
        grpc.aio.insecure_channel(master, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range((agents + PER_CONNECTION - 1) // PER_CONNECTION)
    ]
    registered = 0
    all_in = asyncio.Event()
    opening = asyncio.Semaphore(window)
    started = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal registered
        queue: asyncio.Queue[apb.AgentToMaster] = asyncio.Queue()

        async def requests():  # type: ignore[no-untyped-def]
            yield apb.AgentToMaster(
                register=apb.Register(
                    name=f"sim-{i:05d}", instance_id=f"sim-{i}", heartbeat_interval_s=interval,
                    max_tasks=1, tags={"sim": "yes"}, address=f"sim-{i}",
                )
            )
            while True:
                yield await queue.get()

        stub = mgrpc.MasterServiceStub(channels[i // PER_CONNECTION])
        async with opening:
            call = stub.Connect(requests())
            await call.read()
            registered += 1
        if registered == agents:
            all_in.set()
        await all_in.wait()
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            queue.put_nowait(apb.AgentToMaster(heartbeat=apb.Heartbeat(metrics=apb.Metrics(ts=time.time()))))
            await asyncio.sleep(interval)

    tasks = [asyncio.create_task(one(i)) for i in range(agents)]
    try:
        await asyncio.wait_for(all_in.wait(), 120)
    except TimeoutError:
        print(json.dumps({"registered": registered, "error": "registration timed out"}), flush=True)
        return
    print(json.dumps({"registered": registered, "burst_s": time.perf_counter() - started}), flush=True)
    await asyncio.sleep(duration)
    for task in tasks:
        task.cancel()
    for channel in channels:
        await channel.close()


# ---- the driver ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lag_histogram(metrics_port: int) -> dict[float, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    buckets = {}
    for line in text.splitlines():
        if line.startswith("sloth_heartbeat_lag_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
    return buckets


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> tuple[float, int]:
    """The bucket bound under which fraction q of the heartbeats between the two readings fell."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0
    for bound, count in zip(bounds, counts, strict=True):
        if total and count >= q * total:
            return bound, int(total)
    return float("inf"), int(total)


def drive(args: argparse.Namespace) -> None:
    import psutil

    root = Path(tempfile.mkdtemp(prefix="sloth-a1-"))
    env = {**os.environ, "SLOTH_HOME": str(root), "SLOTH_DB": f"sqlite:///{root / 'sloth.db'}"}
    env.pop("SLOTH_MASTER", None)
    ready, metrics_port = root / "master.ready", free_port()
    master = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "master", "--listen", "127.0.0.1:0",
         "--ready-file", str(ready), "--metrics-listen", f"127.0.0.1:{metrics_port}"],
        env=env, stderr=open(root / "master.log", "wb"), start_new_session=True,  # noqa: SIM115
    )
    sim = None
    try:
        while not ready.exists():
            if master.poll() is not None:
                raise SystemExit((root / "master.log").read_text())
            time.sleep(0.05)
        address = ready.read_text().strip()
        proc = psutil.Process(master.pid)
        idle_rss = proc.memory_info().rss
        sim = subprocess.Popen(
            [sys.executable, __file__, "--simulate", "--master", address, "--agents", str(args.agents),
             "--window", str(args.window),
             "--interval", str(args.interval), "--duration", str(args.steady + 10)],
            env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        burst = json.loads(sim.stdout.readline())
        if "error" in burst:
            raise SystemExit(f"simulator: {burst}")
        rss_after_burst = proc.memory_info().rss
        time.sleep(2)  # let the registrations' rows be written
        cpu0, hist0, t0 = sum(proc.cpu_times()[:2]), lag_histogram(metrics_port), time.monotonic()
        time.sleep(args.steady)
        cpu1, hist1, t1 = sum(proc.cpu_times()[:2]), lag_histogram(metrics_port), time.monotonic()
        p50, beats = quantile(hist0, hist1, 0.5)
        p99, _ = quantile(hist0, hist1, 0.99)
        rss = proc.memory_info().rss
        mib = 1024 * 1024
        print(f"A1 {burst['registered']:,} simulated agents, heartbeat every {args.interval:g}s, one master")
        print(f"  registration burst: {burst['burst_s']:.2f}s = {burst['registered'] / burst['burst_s']:,.0f} agents/s")
        print(f"  steady state over {t1 - t0:.0f}s: {beats:,} heartbeats ({beats / (t1 - t0):,.0f}/s), "
              f"master CPU {100 * (cpu1 - cpu0) / (t1 - t0):.1f}% of one core")
        print(f"  heartbeat lag: p50 <= {p50 * 1000:g} ms, p99 <= {p99 * 1000:g} ms (histogram bucket bounds)")
        print(f"  master RSS: {idle_rss / mib:.0f} MiB idle, {rss_after_burst / mib:.0f} MiB after the burst, "
              f"{rss / mib:.0f} MiB in steady state")
    finally:
        for p in (sim, master):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--steady", type=float, default=35.0, help="seconds of steady state measured")
    parser.add_argument(
        "--window", type=int, default=1000, help="registrations in flight at once (more makes grpc's client fail)"
    )
    parser.add_argument("--simulate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.simulate:
        asyncio.run(simulate(args.master, args.agents, args.interval, args.duration, args.window))
    else:
        drive(args)


if __name__ == "__main__":
    main()
