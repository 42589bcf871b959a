"""Runs always end: signals of a local run, broken input, abandoned runs, `runs cancel --force`,
and the exit codes of what a run could not write. Real `sloth-daemon` processes, real stores."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from procs import alive, gone

REPO = Path(__file__).resolve().parent.parent
LONG = 'task("long"):command("echo $$ > {pidfile}; exec sleep 60")\n'


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")}
    env["SLOTH_HOME"] = str(home)
    return env


def sloth(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", *args],
        capture_output=True,
        text=True,
        env=_env(home),
        cwd=REPO,
        timeout=timeout,
    )


def start_run(tmp_path: Path, body: str) -> tuple[subprocess.Popen[str], Path]:
    pidfile = tmp_path / "child.pid"
    path = tmp_path / "long.sloth"
    path.write_text(body.format(pidfile=pidfile))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path / "home"),
        cwd=REPO,
        start_new_session=True,
    )
    return proc, pidfile


def wait_pid(pidfile: Path, proc: subprocess.Popen[str], within: float = 30) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        if text:
            return int(text)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the task never started")


def runs(home: Path, *extra: str) -> list[dict[str, Any]]:
    done = sloth("runs", "list", "--json", *extra, home=home)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def stop(proc: subprocess.Popen[str], child: int | None) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=10)
    if child is not None and alive(child):
        os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_hangup_and_terminate_cancel_a_local_run(sig: signal.Signals, tmp_path: Path) -> None:
    """Closing the terminal (SIGHUP) or `kill` (SIGTERM) acts like Ctrl-C: tasks cancelled,
    their processes killed, the run recorded `cancelled`."""
    proc, pidfile = start_run(tmp_path, LONG)
    child = None
    try:
        child = wait_pid(pidfile, proc)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert gone(child, within=10), "the task's process outlived the run"
        [run] = runs(tmp_path / "home")
        assert run["status"] == "cancelled"
        assert sig.name in run["error"]
        shown = json.loads(sloth("runs", "show", run["run_id"], "--json", home=tmp_path / "home").stdout)
        assert [t["status"] for t in shown["tasks"]][-1] == "cancelled"
    finally:
        stop(proc, child)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('task("a"):command("echo a\\0b")\n', "the command contains a NUL byte"),
        ('task("a"):command("echo a"):env({ X = "a\\0b" })\n', "environment variable X contains a NUL"),
    ],
)
def test_a_nul_byte_in_a_command_fails_the_task_clearly(body: str, said: str, tmp_path: Path) -> None:
    path = tmp_path / "nul.sloth"
    path.write_text(body)
    done = sloth("run", str(path), "--output", "json", home=tmp_path / "home")
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "failed" and said in doc["tasks"][0]["error"]
    [run] = runs(tmp_path / "home")
    assert run["status"] == "failed"


def test_a_nul_byte_in_a_task_name_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "nul.sloth"
    path.write_text('task("a\\0b"):command("echo a")\n')
    done = sloth("run", str(path), home=tmp_path / "home")
    assert done.returncode == 2
    assert "nul.sloth:1: task name 'a\\0b'" in done.stderr and "contains a NUL byte" in done.stderr
    assert runs(tmp_path / "home") == []


def test_a_killed_run_is_listed_abandoned_and_health_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, pidfile = start_run(tmp_path, LONG)
    child = None
    try:
        child = wait_pid(pidfile, proc)
        [before] = runs(home)
        assert before["status"] == "running"
        proc.kill()  # the owner dies without a word; its task's process is another matter
        proc.communicate(timeout=10)
        listed = sloth("runs", "list", home=home)
        assert "marked abandoned" in listed.stderr
        [after] = runs(home)
        assert after["status"] == "abandoned" and after["finished_at"] is not None
        assert f"pid {proc.pid}" in after["error"]
        shown = json.loads(sloth("runs", "show", after["run_id"], "--json", home=home).stdout)
        assert shown["tasks"][-1]["status"] == "cancelled"
        health = sloth("sysadmin", "health", "--json", home=home)
        checks = {c["check"]: c for c in json.loads(health.stdout)}
        assert checks["runs abandoned"]["status"] == "warn"
        assert after["run_id"] in checks["runs abandoned"]["detail"]
        forced = sloth("runs", "cancel", "--force", after["run_id"], home=home)
        assert forced.returncode == 1 and "already finished (abandoned)" in forced.stderr
    finally:
        stop(proc, child)


def _foreign_run(home: Path, run_id: str) -> None:
    """A run row as another machine's process leaves it: nobody here can judge its owner."""
    sys.path.insert(0, str(REPO))
    from sloth_engine.run_owner import Owner
    from sloth_engine.store import open_store

    os.environ["SLOTH_HOME"] = str(home)
    try:
        store = open_store(None)
    finally:
        del os.environ["SLOTH_HOME"]
    try:
        owner = Owner(socket.gethostname() + "-elsewhere", "boot", 4242, 1.0)
        store.runs.create_run(run_id, "w", "w.sloth", None, {}, time.time() - 7 * 3600, owner)
    finally:
        store.close()


def test_runs_cancel_force_ends_a_run_nobody_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _foreign_run(home, "r-foreign")
    assert runs(home)[0]["status"] == "running"
    health = json.loads(sloth("sysadmin", "health", "--json", home=home).stdout)
    stuck = next(c for c in health if c["check"] == "runs stuck")
    assert stuck["status"] == "warn" and "r-foreign" in stuck["detail"]
    refused = sloth("runs", "cancel", "r-foreign", home=home)
    assert refused.returncode == 1 and "runs cancel --force r-foreign" in refused.stderr
    forced = sloth("runs", "cancel", "--force", "r-foreign", "--reason", "gone for good", home=home)
    assert forced.returncode == 0, forced.stderr
    [run] = runs(home)
    assert run["status"] == "cancelled" and run["error"] == "gone for good (forced)"


def test_a_junit_report_that_cannot_be_written_fails_the_command(tmp_path: Path) -> None:
    path = tmp_path / "ok.sloth"
    path.write_text('task("a"):command("true")\n')
    (tmp_path / "afile").write_text("")
    done = sloth("run", str(path), "--junit", str(tmp_path / "afile" / "report.xml"), home=tmp_path)
    assert done.returncode == 1
    assert "cannot write JUnit report" in done.stderr


def test_certs_init_into_a_path_that_cannot_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    done = sloth("certs", "init", str(tmp_path / "afile" / "certs"), home=tmp_path)
    assert done.returncode == 2
    assert "internal error" not in done.stderr and "cannot write into" in done.stderr
    made = sloth("certs", "init", str(tmp_path / "new" / "deeper"), home=tmp_path)
    assert made.returncode == 0 and (tmp_path / "new" / "deeper" / "ca.crt").exists()


def test_a_master_lists_abandoned_runs_and_cancels_one_by_force(tmp_path: Path) -> None:
    """Through a master (its store, the same CLI): a killed local run is listed `abandoned`,
    and a run that no process of the master runs is ended by `runs cancel --force`."""
    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path / "c")
    proc = None
    child = None
    try:
        address = cluster.start_master()
        body = tmp_path / "long.sloth"
        pidfile = tmp_path / "child.pid"
        body.write_text(LONG.format(pidfile=pidfile))
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(body)],
            env=cluster.env(),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        child = wait_pid(pidfile, proc)  # type: ignore[arg-type]
        proc.kill()
        proc.wait(timeout=10)
        [run] = cluster.cli_json("runs", "list", "--json", "--master", address)
        assert run["status"] == "abandoned", run
        with cluster.store() as store:
            from sloth_engine.run_owner import Owner

            owner = Owner("elsewhere.example", "boot", 4242, 1.0)
            store.runs.create_run("r-foreign", "w", "w.sloth", None, {}, time.time(), owner)
        refused = cluster.cli("runs", "cancel", "r-foreign", "--master", address)
        assert refused.returncode == 1 and "runs cancel --force r-foreign" in refused.stderr
        forced = cluster.cli("runs", "cancel", "r-foreign", "--force", "--master", address)
        assert forced.returncode == 0, forced.stderr
        shown = cluster.cli_json("runs", "show", "r-foreign", "--json", "--master", address)
        assert shown["status"] == "cancelled" and "forced" in shown["error"]
        again = cluster.cli("runs", "cancel", "r-foreign", "--force", "--master", address)
        assert again.returncode == 1 and "already finished (cancelled)" in again.stderr
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)
        cluster.close()
