"""Several processes on one store: atomic increments, exclusive leases, and a SIGKILL mid-write."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sloth_engine.store import LATEST, open_store

WORKER = Path(__file__).with_name("store_worker.py")
PROCESSES = 8


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(procs: list[subprocess.Popen[str]], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    try:
        codes = [p.wait(max(deadline - time.monotonic(), 0.1)) for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc in procs:
        err = proc.stderr.read() if proc.stderr else ""
        assert proc.returncode in (0, 3), f"worker failed ({proc.returncode}): {err}"
    return codes


def test_increments_from_eight_processes_are_never_lost(store: Any, store_url: str) -> None:
    procs = [_start("increment", store_url, "hits", "1000") for _ in range(PROCESSES)]
    assert _finish(procs, timeout=90) == [0] * PROCESSES
    assert store.state.get("race", "hits") == PROCESSES * 1000


def test_eight_processes_race_for_one_lock(store: Any, store_url: str, tmp_path: Path) -> None:
    witness, tokens = tmp_path / "witness", tmp_path / "tokens"
    witness.write_bytes(b" " * 32)
    tokens.write_text("")
    procs = [
        _start("race", store_url, "the-lock", f"p{i}", "200", str(witness), str(tokens))
        for i in range(PROCESSES)
    ]
    codes = _finish(procs, timeout=120)
    assert codes == [0] * PROCESSES, "a worker saw another holder inside the lock"
    grants = [line.split() for line in tokens.read_text().splitlines()]
    assert len(grants) == PROCESSES * 200  # every waiter was served, every time
    assert {holder for _, holder in grants} == {f"p{i}" for i in range(PROCESSES)}
    values = [int(token) for token, _ in grants]
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), "fencing tokens went backwards"
    assert store.state.locks() == []


def test_concurrent_first_open_migrates_once(store_url: str) -> None:
    procs = [_start("open", store_url) for _ in range(4)]
    assert _finish(procs, timeout=60) == [0] * 4
    with open_store(store_url) as store:
        assert store.schema_version() == LATEST


def test_acknowledged_writes_survive_sigkill(store_url: str) -> None:
    writer = _start("write-forever", store_url)
    acked = -1
    try:
        assert writer.stdout is not None
        deadline = time.monotonic() + 60
        while acked < 1500 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            acked = int(line)
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        # Lines the writer printed before dying are acknowledged too.
        for line in writer.stdout.read().split():
            acked = max(acked, int(line))
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert acked >= 1500, writer.stderr.read() if writer.stderr else ""
    with open_store(store_url) as store:
        if store.kind == "sqlite":
            assert store.backend.integrity_check() == "ok"
        for index in range(acked + 1):
            assert store.state.get("crash", f"k{index}") == {"index": index, "pad": "x" * 200}
        assert store.state.get("crash", "counter") >= acked + 1


def test_store_usable_from_many_threads(store: Any) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                store.state.set("threads", f"t{n}-{i}", i)
                store.state.increment("threads", "total")
                assert store.state.get("threads", f"t{n}-{i}") == i
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert store.state.get("threads", "total") == 400
    assert len(store.state.keys("threads", "t")) == 401
