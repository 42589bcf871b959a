"""Granted secrets on agents (issue 13 item 2) and configuration errors that are never retried
(item 7), with real master and agent processes."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_cluster import Cluster
from test_secrets import set_secret

PASS = "correct horse battery staple"
SECRET = "s3cr3t-Pa55-word-4711"

USES = """
local t = task("use"):delegate_to("a1"):command(function()
  log.info("the password is " .. secrets.db_password)
  local stored = pcall(state.set, "copy", "pw:" .. secrets.db_password)
  local sent = pcall(event.dispatch, "leak", { pw = secrets.db_password })
  log.info("stored " .. tostring(stored) .. " sent " .. tostring(sent))
  return true, "used " .. secrets.db_password, { length = #secrets.db_password }
end)
workflow.define("uses"):tasks({ t }):config({ stack = "prod", secrets = { "db_password" } })
"""

# Refused on the agent, where the values are encoded (docs/SECURITY.md, "Secrets stay secret").
KEEPS = """
local t = task("keep"):delegate_to("a1"):command(function()
  local stored, why = pcall(state.set, "copy", secrets.db_password)
  log.info("state.set refused: " .. tostring(not stored) .. " " .. tostring(why))
  return true, "kept", { copy = secrets.db_password }
end)
workflow.define("keeps"):tasks({ t }):config({ stack = "prod", secrets = { "db_password" } })
"""
REFUSED = "the value holds a granted secret"

NOT_GRANTED = """
local t = task("peek"):delegate_to("a1"):retries(3):command(function()
  return true, secrets.api_token
end)
workflow.define("peek"):tasks({ t }):config({ stack = "prod", secrets = { "db_password" } })
"""


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    monkeypatch.setenv("SLOTH_SECRETS_PASSPHRASE", PASS)
    monkeypatch.delenv("SLOTH_SECRETS_KEY_FILE", raising=False)
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _files_holding(value: bytes, roots: list[Path], since: float) -> list[str]:
    found = []
    for root in roots:
        # os.walk, not rglob: other programs create and delete folders in /tmp meanwhile, and a
        # folder that vanishes under the walk is skipped instead of failing the test.
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder, name)
                try:
                    if not path.is_file() or path.stat().st_mtime < since or path.stat().st_size > 20_000_000:
                        continue
                    if value in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    continue
    return found


def test_secrets_reach_the_agent_redacted_and_never_touch_its_disk(cluster: Cluster) -> None:
    started = time.time() - 1
    set_secret(cluster, "db_password", SECRET)
    set_secret(cluster, "api_token", "tok-98765")
    cluster.start_master()
    cluster.start_agent("a1")
    wf = cluster.write("uses.sloth", USES)
    done = cluster.cli("run", str(wf), "--master", cluster.address, "-o", "json")
    assert done.returncode == 0, done.stderr + cluster.logs()
    report = json.loads(done.stdout)
    task = report["tasks"][0]
    assert task["agent"] == "a1"
    assert task["message"] == "used ***" and task["outputs"] == {"length": len(SECRET)}
    logs = cluster.cli("runs", "logs", report["run_id"], "--master", cluster.address).stdout
    assert "the password is ***" in logs and "stored false sent false" in logs  # refused as locally
    assert SECRET not in done.stdout + done.stderr + logs
    # The agent's home, working folder (its log file too) and temporary files: never the value.
    roots = [cluster.home, cluster.root, Path(tempfile.gettempdir())]
    assert _files_holding(SECRET.encode(), roots, started) == []

    keeps = cluster.write("keeps.sloth", KEEPS)
    kept = cluster.cli("run", str(keeps), "--master", cluster.address, "-o", "json")
    task = json.loads(kept.stdout)["tasks"][0]
    assert task["agent"] == "a1" and task["status"] == "failed" and REFUSED in task["error"]
    assert not task["outputs"]
    logs = cluster.cli("runs", "logs", json.loads(kept.stdout)["run_id"], "--master", cluster.address).stdout
    assert "state.set refused: true" in logs and REFUSED in logs and SECRET not in logs

    peek = cluster.write("peek.sloth", NOT_GRANTED)
    refused = cluster.cli("run", str(peek), "--master", cluster.address, "-o", "json")
    report = json.loads(refused.stdout)
    task = report["tasks"][0]
    assert task["status"] == "failed" and "not granted" in task["error"]
    assert task["attempts"] == 1  # a configuration error: its 3 retries are not used


def _outside_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_secrets_are_not_sent_in_clear_off_loopback_unless_the_master_allows_it(cluster: Cluster) -> None:
    outside = _outside_address()
    assert outside is not None, "this machine needs a non-loopback IPv4 address for this test"
    set_secret(cluster, "db_password", SECRET)
    address = cluster.start_master("0.0.0.0:0")
    port = address.rpartition(":")[2]
    cluster.address = f"{outside}:{port}"  # the agent dials a non-loopback address
    cluster.start_agent("a1")
    wf = cluster.write("uses.sloth", USES.replace('"a1")', '"a1"):retries(2)', 1))
    done = cluster.cli("run", str(wf), "--master", cluster.address, "-o", "json")
    assert done.returncode == 1, done.stderr + cluster.logs()
    task = json.loads(done.stdout)["tasks"][0]
    assert "plain connection" in task["error"] and "--allow-plaintext-secrets" in task["error"]
    assert task["attempts"] == 1

    cluster.kill(cluster.master_proc)
    cluster.kill(cluster.agents["a1"])
    address = cluster.start_master("0.0.0.0:0", "--allow-plaintext-secrets")
    cluster.address = f"{outside}:{address.rpartition(':')[2]}"
    cluster.start_agent("a1")
    done = cluster.cli("run", str(wf), "--master", cluster.address, "-o", "json")
    assert done.returncode == 0, done.stderr + cluster.logs()
    assert json.loads(done.stdout)["tasks"][0]["message"] == "used ***"
