"""`sysadmin health|backup|restore|logs` against real stores (SQLite files; PostgreSQL for the
round trip), a real `sloth-daemon run` writing state during backups, and a real master with
one agent for the health check."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from distributed_cluster import Cluster, wait_for

from sloth_daemon.cli import sysadmin_cmd
from sloth_engine.store import open_store

pytestmark = pytest.mark.timeout(60)


class Cli:
    """`sloth-daemon sysadmin ...` in this process, output captured."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        parser = argparse.ArgumentParser(prog="sloth-daemon")
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--db", default=None)
        sysadmin_cmd.register(parser.add_subparsers(dest="command"), [common])
        self.parser = parser

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        args = self.parser.parse_args(["sysadmin", *argv])
        code = args.func(args)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("SLOTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SLOTH_MASTER", raising=False)
    return Cli(capsys)


def _state(url: str) -> dict[str, Any]:
    with open_store(url) as store:
        return {e.key: e.value for e in store.state.entries("default", "")}


# ---- backup and restore ------------------------------------------------------------------------------


def test_backup_and_restore_round_trip(cli: Cli, store_url: str, tmp_path: Path) -> None:
    with open_store(store_url) as store:
        store.state.set("default", "version", 1)
        store.runs.create_run("r1", "deploy", "deploy.sloth", None, {}, time.time())
    out = tmp_path / "backup.sql" if store_url.startswith("postgres") else tmp_path / "backup.db"
    code, text, err = cli("backup", "--out", str(out), "--db", store_url)
    assert code == 0, err
    assert f"to {out}" in text and "schema v" in text and out.stat().st_size > 0
    with open_store(store_url) as store:
        store.state.set("default", "version", 2)
        store.state.set("default", "extra", "x")
    code, _, err = cli("restore", str(out), "--db", store_url)
    assert code == 2 and "add --yes" in err
    assert _state(store_url) == {"version": 2, "extra": "x"}  # refused: nothing changed
    code, text, err = cli("restore", str(out), "--yes", "--db", store_url)
    assert code == 0, err
    assert _state(store_url) == {"version": 1}
    with open_store(store_url) as store:
        assert store.runs.get_run("r1", with_tasks=False)["workflow"] == "deploy"
        if store.kind == "sqlite":
            assert store.backend.integrity_check() == "ok"
            assert store.backend.query_one("PRAGMA journal_mode")[0] == "wal"
        store.state.set("default", "after", True)  # still a working store
    code, _, err = cli("restore", str(tmp_path / "missing.db"), "--yes", "--db", store_url)
    assert code == 1 and "no backup file" in err


BUSY_WORKFLOW = """
local function writer(prefix)
  return function()
    local i = 0
    while i < 200000 and not state.get("stop") do
      i = i + 1
      state.set(prefix .. ":" .. i, i)
      if i % 25 == 0 then time.sleep(0.001) end
    end
    return true, "wrote " .. i
  end
end
workflow.define("busy", { tasks = {
  { name = "a", timeout = "40s", command = writer("a") },
  { name = "b", timeout = "40s", command = writer("b") },
}})
"""


def test_backups_taken_while_a_workflow_writes_restore_consistently(cli: Cli, tmp_path: Path) -> None:
    """Each task writes keys 1, 2, 3, ... in order, one transaction each: a consistent copy
    holds, for each task, exactly a prefix 1..n of its keys."""
    url = f"sqlite:///{tmp_path}/live.db"
    (tmp_path / "busy.sloth").write_text(BUSY_WORKFLOW)
    env = {**os.environ, "SLOTH_HOME": str(tmp_path / "home"), "SLOTH_DB": url}
    run = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", "busy.sloth", "-o", "json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    backups = []
    try:
        wait_for(lambda: len(_state(url)) > 200, 20, "the workflow to write state")
        for n in range(3):
            out = tmp_path / f"b{n}.db"
            code, _, err = cli("backup", "--out", str(out), "--db", url)
            assert code == 0, err
            backups.append(out)
            time.sleep(0.1)
        with open_store(url) as store:
            store.state.set("default", "stop", True)
        stdout, stderr = run.communicate(timeout=40)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 0, stderr.decode()
    assert all(t["status"] == "success" for t in json.loads(stdout)["tasks"])
    sizes = []
    for n, backup in enumerate(backups):
        fresh = f"sqlite:///{tmp_path}/restored{n}.db"
        code, _, err = cli("restore", str(backup), "--yes", "--db", fresh)
        assert code == 0, err
        with open_store(fresh) as store:
            assert store.backend.integrity_check() == "ok"
            assert [r["workflow"] for r in store.runs.list_runs()] == ["busy"]
        state = _state(fresh)
        for prefix in ("a", "b"):
            numbers = sorted(v for k, v in state.items() if k.startswith(prefix + ":"))
            assert numbers == list(range(1, len(numbers) + 1)), f"backup {n}: {prefix} keys are not a prefix"
        sizes.append(len(state))
    assert sizes == sorted(sizes) and 200 < sizes[0] < sizes[-1], sizes  # written to all along


# ---- health ------------------------------------------------------------------------------------------


def test_health_of_a_local_store(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sloth.db"
    code, out, _ = cli("health", "--json", "--integrity", "--db", url)
    checks = {c["check"]: c for c in json.loads(out)}
    assert code == 0
    assert {name: c["status"] for name, c in checks.items()} == {
        "store": "ok",
        "store writable": "ok",
        "store integrity": "ok",
        "runs abandoned": "ok",
        "runs stuck": "ok",
        "disk (SLOTH_HOME)": "ok",
        "disk (store)": "ok",
        "master": "skip",
    }
    assert checks["master"]["detail"].startswith("no master given")
    code, out, _ = cli("health", "--json", "--min-free-mb", str(10**12), "--db", url)
    assert code == 1 and json.loads(out)[3]["status"] == "fail"
    code, out, _ = cli("health", "--db", "sqlite:////no/such/dir/x.db")
    assert code == 1 and "store" in out and "fail" in out


def test_health_with_a_master_and_an_agent(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.start_master()
        cluster.start_agent("web-01")
        done = cluster.cli("sysadmin", "health", "--master", cluster.address, "--json")
        assert done.returncode == 0, done.stderr
        checks = {c["check"]: c for c in json.loads(done.stdout)}
        assert checks["master"] == {
            "check": "master",
            "status": "ok",
            "detail": f"{cluster.address}: SERVING",
        }
        assert checks["agents"]["detail"] == "1 connected"
        cluster.kill(cluster.master_proc)  # type: ignore[arg-type]
        done = cluster.cli("sysadmin", "health", "--master", cluster.address, "--json")
        assert done.returncode == 1
        assert {c["check"]: c["status"] for c in json.loads(done.stdout)}["master"] == "fail"
    finally:
        cluster.close()


# ---- logs ---------------------------------------------------------------------------------------------


def test_logs_and_follow(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sloth.db"
    with open_store(url) as store:
        store.runs.create_run("r1", "deploy", "d.sloth", None, {}, time.time())
        store.events.append("workflow.started", {"workflow": "deploy"}, run_id="r1")
        store.runs.append_logs(
            [
                ("r1", "build", 1, "stdout", 1, time.time(), "compiling"),
                ("r1", "build", 1, "stderr", 2, time.time(), "warning: x"),
            ]
        )
        for n in range(5):
            store.events.append("custom", {"n": n})
    code, out, _ = cli("logs", "-n", "3", "--db", url)
    assert code == 0 and len(out.splitlines()) == 3 and '{"n":4}' in out.splitlines()[-1]
    code, out, _ = cli("logs", "--run", "r1", "--db", url)
    lines = out.splitlines()
    assert "workflow.started run=r1" in lines[0]
    assert lines[1].endswith("[r1 build#1] compiling") and lines[2].endswith("[r1 build#1] ! warning: x")
    code, out, _ = cli("logs", "--run", "r1", "--only", "output", "--json", "--db", url)
    assert [json.loads(line)["line"] for line in out.splitlines()] == ["compiling", "warning: x"]

    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sloth_daemon.cli.main",
            "sysadmin",
            "logs",
            "--follow",
            "-n",
            "0",
            "--db",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines_seen: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines_seen.put(line) for line in follow.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        # It prints nothing until something is added (-n 0); when it has read the current end
        # is its own business (slow on a loaded machine): add an event until one shows up.
        deadline = time.monotonic() + 60
        line = None
        while line is None and time.monotonic() < deadline:
            with open_store(url) as store:
                store.events.append("custom.late", {"hello": "there"})
            with contextlib.suppress(queue.Empty):
                line = lines_seen.get(timeout=0.5)
        assert line is not None, "nothing was followed"
        assert "custom.late" in line and '"hello":"there"' in line  # nothing from before it started
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=30) == 0
        rest = []
        while not lines_seen.empty():
            rest.append(lines_seen.get())
        assert all("custom.late" in later for later in rest)
    finally:
        if follow.poll() is None:
            os.killpg(follow.pid, signal.SIGKILL)
            follow.wait()
