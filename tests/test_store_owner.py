"""One master per store, with real master processes on SQLite and PostgreSQL: a second master
without --ha is refused naming the holder; a master restarted after SIGKILL takes its dead
predecessor's lease at once."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from distributed_cluster import Cluster

START = 30.0


@pytest.fixture
def cluster(tmp_path, store_url):
    c = Cluster(tmp_path)
    c.db = store_url
    try:
        yield c
    finally:
        c.close()


def _second_master(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "master", "--listen", "127.0.0.1:0"],
        env=cluster.env(),
        cwd=cluster.root,
        capture_output=True,
        text=True,
        timeout=START,
    )


def test_a_second_master_on_the_same_store_is_refused_naming_the_holder(cluster: Cluster) -> None:
    address = cluster.start_master()
    assert cluster.master_proc is not None
    done = _second_master(cluster)
    assert done.returncode != 0
    text = done.stderr
    assert "is held by the master at" in text, text
    assert address in text and f"pid {cluster.master_proc.pid}" in text, text
    assert "Traceback" not in text


def test_a_master_restarted_after_sigkill_takes_the_store_at_once(cluster: Cluster) -> None:
    cluster.start_master("127.0.0.1:0", "--lease-ttl", "60s")
    assert cluster.master_proc is not None
    cluster.kill(cluster.master_proc, signal.SIGKILL)
    cluster.start_master()  # its dead predecessor's 60 s lease does not hold it up
    with cluster.client() as client:
        assert client.list_runs() is not None


def test_a_clean_stop_hands_the_store_back(cluster: Cluster) -> None:
    cluster.start_master("127.0.0.1:0", "--lease-ttl", "60s")
    assert cluster.master_proc is not None
    cluster.kill(cluster.master_proc, signal.SIGTERM)
    cluster.start_master()
