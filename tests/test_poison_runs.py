"""Poison runs: a run that takes its master down is resumed once at most, then ends `failed`
with a reason that says so; the master starts and serves the next run. Real processes."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from distributed_cluster import Cluster, wait_for

# The task's run_if condition (conditions and hooks run in the master's own process; the task's
# command would run in a child process of its own, which a restarted master adopts) walks up
# from its shell to the `sloth-daemon master` process and SIGKILLs it, as code that crashes its
# master would; every kill is logged, so the test counts the resumes.
KILLER = r"""
task("boom"):command("true"):run_if([[
p=$$
while [ "$p" -gt 1 ]; do
  p=$(awk '{print $4}' /proc/$p/stat)
  if tr '\0' ' ' < /proc/$p/cmdline | grep -q ' master --listen'; then
    echo "$p" >> KILLS; kill -9 "$p"; sleep 30; exit 0
  fi
done
exit 1
]])
"""


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _master_dies(cluster: Cluster, address: str) -> None:
    """Start a master that the poison run takes down, during or just after its start."""
    with contextlib.suppress(AssertionError):  # it may die before it is ready
        cluster.start_master(address)
    proc = cluster.procs[-1]
    wait_for(lambda: proc.poll() is not None, timeout=30, what="the master to be killed by the run")


def test_a_run_that_kills_its_master_is_resumed_once_then_failed(cluster: Cluster) -> None:
    kills = cluster.root / "kills.log"
    path = cluster.write("boom.sloth", KILLER.replace("KILLS", str(kills)))
    address = cluster.start_master()
    first = cluster.master_proc
    assert first is not None
    with cluster.client() as client:
        run_id = client.submit_run(str(path), path.read_text())[0].run_id
    wait_for(lambda: first.poll() is not None, timeout=30, what="the run to kill its master")
    _master_dies(cluster, address)  # resumed once: it kills this master too
    assert len(kills.read_text().split()) == 2
    cluster.start_master(address)  # not resumed again: this one starts and stays
    with cluster.client() as client:
        run = wait_for(lambda: (r := client.get_run(run_id))["finished_at"] and r, what="the run to end")
        assert run["status"] == "failed"
        assert "not resumed again" in run["error"] and "while resuming it" in run["error"]
        ok = cluster.write("ok.sloth", 'task("fine"):command("true")\n')
        next_id = client.submit_run(str(ok), ok.read_text())[0].run_id
        assert list(client.follow_run(next_id))[-1].status.value == "success"
    assert cluster.master_proc is not None and cluster.master_proc.poll() is None
    assert len(kills.read_text().split()) == 2  # resumed once, not twice


# A pattern that backtracks for ever inside string.find: no Lua hook can interrupt it.
HANGS = 'string.find(string.rep("a", 40), string.rep("a?", 40) .. string.rep("a", 40) .. "b")\n'
GOOD = 'workflow.define("good"):tasks({ task("g"):command("echo %s") })\n'


def _probes(folder: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "catalog_probe" in cmdline and str(folder) in cmdline:
            found.append(int(proc.name))
    return found


def test_a_watched_file_that_never_loads_holds_up_nothing(cluster: Cluster) -> None:
    folder = cluster.root / "workflows"
    folder.mkdir()
    (folder / "hangs.sloth").write_text(HANGS)
    good = folder / "good.sloth"
    good.write_text(GOOD % "v1")
    started = time.monotonic()
    cluster.start_master("127.0.0.1:0", "--watch", str(folder), "--watch-timeout", "4s")
    assert time.monotonic() - started < 15, "the master waited on the hanging file"

    def listed() -> dict[str, dict]:
        rows = cluster.cli_json("workflow", "list", "--master", cluster.address, "--json")
        return {Path(r["file"]).name: r for r in rows}

    assert listed()["good.sloth"]["workflow"] == "good"
    good.write_text(GOOD % "v2")  # reloaded while the other file is still loading
    wait_for(
        lambda: [e for e in cluster.cli_json("events", "list", "--type", "workflow.reloaded", "--json")],
        10,
        "good.sloth to be reloaded",
    )
    hung = wait_for(lambda: (r := listed().get("hangs.sloth")) and r["error"] and r, 20, "the bound")
    assert "loading took more than 4s" in hung["error"]
    wait_for(lambda: not _probes(folder), 10, "the hung loader to be killed")
    with cluster.client() as client:
        run_id = client.submit_run(str(good), good.read_text())[0].run_id
        assert list(client.follow_run(run_id))[-1].status.value == "success"
