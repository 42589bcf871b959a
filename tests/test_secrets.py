"""Secrets through the CLI and real processes: round trips, encryption at rest, a clear error for
a wrong key, and values hidden from a run's logs, events, reports and errors, also on a master."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from distributed_cluster import Cluster

SECRET = "pa55-w0rd-Ultra-Secret"
PASS = "correct horse battery staple"

ECHOING = """
local leak = task("leak"):command(function()
  print("the password is " .. secrets.db_password)
  log.info("again: " .. secrets.db_password .. " and " .. secrets.api_token)
  local sent, why = pcall(event.dispatch, "leaked", { value = "x" .. secrets.db_password })
  print("dispatch refused: " .. tostring(not sent) .. " " .. tostring(why))
  local stored, err = pcall(state.set, "pw", { nested = secrets.db_password })
  print("state.set refused: " .. tostring(not stored) .. " " .. tostring(err))
  local swapped = pcall(state.compare_and_swap, "pw", nil, secrets.api_token)
  local kept = pcall(state.set_with_ttl, "pw", secrets.api_token, 60)
  print("cas and ttl refused: " .. tostring(not swapped and not kept) .. " " .. tostring(state.get("pw")))
  print(exec.run("echo shell sees $PW", { env = { PW = secrets.db_password } }).stdout)
  return true, "pw=" .. secrets.db_password
end)
local shell = task("shell"):command("echo plain shell prints $(cat secret.txt)")
local bad = task("bad"):command(function() error("failed with " .. secrets.db_password) end)
local out = task("out"):command(function() return true, "ok", { pw = secrets.db_password } end)
workflow.define("echoing"):tasks({ leak, shell, bad, out })
  :config({ stack = "prod", secrets = { "db_password", "api_token" } })
"""
REFUSED = "the value holds a granted secret"


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLOTH_SECRETS_PASSPHRASE", PASS)
    monkeypatch.delenv("SLOTH_SECRETS_KEY_FILE", raising=False)
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def set_secret(c: Cluster, name: str, value: str, stack: str = "prod") -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "secrets", "set", name, "--stack", stack],
        input=value + "\n",
        env=c.env(),
        cwd=c.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def store_bytes(c: Cluster) -> bytes:
    return b"".join(p.read_bytes() for p in c.root.glob("sloth.db*"))


def test_round_trip_list_delete_and_encryption_at_rest(cluster: Cluster) -> None:
    set_secret(cluster, "db_password", SECRET)
    got = cluster.cli("secrets", "get", "db_password", "--stack", "prod")
    assert got.returncode == 0 and got.stdout == SECRET + "\n"
    key = cluster.write("id_rsa", "-----BEGIN KEY-----\nline-one-abc\nline-two-def\n")
    assert (
        cluster.cli("secrets", "set", "ssh_key", "--stack", "prod", "--from-file", str(key)).returncode == 0
    )
    assert cluster.cli("secrets", "get", "ssh_key", "--stack", "prod").stdout == key.read_text()
    many = cluster.write("many.yaml", "alpha: one-value\nbeta: 42\n")
    assert cluster.cli("secrets", "set", "--from-yaml", str(many), "--stack", "dev").returncode == 0
    assert cluster.cli("secrets", "get", "beta", "--stack", "dev").stdout == "42\n"
    listed = cluster.cli_json("secrets", "list", "--stack", "prod", "--json")
    assert [s["name"] for s in listed] == ["db_password", "ssh_key"]
    assert all(set(s) == {"stack", "name", "created_at", "updated_at"} for s in listed)
    table = cluster.cli("secrets", "list", "--stack", "prod")
    assert "db_password" in table.stdout and SECRET not in table.stdout
    raw = store_bytes(cluster)
    for clear in (SECRET, "line-one-abc", "one-value"):
        assert clear.encode() not in raw
    events = cluster.cli_json("events", "list", "--type", "secret.", "--json")
    assert {e["data"]["name"] for e in events} == {"db_password", "ssh_key", "alpha", "beta"}
    assert cluster.cli("secrets", "delete", "ssh_key", "--stack", "prod").returncode == 0
    gone = cluster.cli("secrets", "get", "ssh_key", "--stack", "prod")
    assert gone.returncode == 1 and "no secret 'ssh_key' in stack 'prod'" in gone.stderr


def test_a_wrong_passphrase_or_key_file_is_a_clear_error(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_secret(cluster, "db_password", SECRET)
    monkeypatch.setenv("SLOTH_SECRETS_PASSPHRASE", "not the passphrase")
    wrong = cluster.cli("secrets", "get", "db_password", "--stack", "prod")
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr and wrong.stdout == ""
    refused = cluster.cli(
        "secrets", "set", "other", "--stack", "prod", "--from-file", str(cluster.write("v", "x"))
    )
    assert refused.returncode == 1 and "wrong passphrase" in refused.stderr
    key = cluster.root / "key"
    key.write_bytes(os.urandom(32))
    monkeypatch.setenv("SLOTH_SECRETS_KEY_FILE", str(key))
    by_file = cluster.cli("secrets", "get", "db_password", "--stack", "prod")
    assert by_file.returncode == 1 and "wrong key file" in by_file.stderr
    monkeypatch.delenv("SLOTH_SECRETS_KEY_FILE")
    monkeypatch.delenv("SLOTH_SECRETS_PASSPHRASE")
    none = cluster.cli("secrets", "get", "db_password", "--stack", "prod")
    assert none.returncode == 1 and "SLOTH_SECRETS_PASSPHRASE" in none.stderr
    assert len(cluster.cli_json("secrets", "list", "--stack", "prod", "--json")) == 1  # listing needs no key


def test_a_key_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "key.hex"
    key.write_text(os.urandom(32).hex() + "\n")
    monkeypatch.delenv("SLOTH_SECRETS_PASSPHRASE", raising=False)
    monkeypatch.setenv("SLOTH_SECRETS_KEY_FILE", str(key))
    c = Cluster(tmp_path)
    set_secret(c, "token", "tok-123456")
    assert c.cli("secrets", "get", "token", "--stack", "prod").stdout == "tok-123456\n"
    monkeypatch.setenv("SLOTH_SECRETS_KEY_FILE", str(c.write("short", "abc")))
    bad = c.cli("secrets", "get", "token", "--stack", "prod")
    assert bad.returncode == 1 and "must hold 32 bytes" in bad.stderr


def _assert_hidden(c: Cluster, report: dict, logs: str) -> None:
    tasks = {t["name"]: t for t in report["tasks"]}
    assert tasks["leak"]["message"] == "pw=***" and tasks["leak"]["status"] == "success"
    assert tasks["shell"]["outputs"]["stdout"] == "plain shell prints ***"
    assert "failed with ***" in tasks["bad"]["error"]
    assert tasks["out"]["status"] == "failed" and REFUSED in tasks["out"]["error"]
    assert not tasks["out"]["outputs"]
    assert "the password is ***" in logs and "again: *** and ***" in logs and "shell sees ***" in logs
    assert "dispatch refused: true" in logs and "state.set refused: true" in logs
    assert "cas and ttl refused: true nil" in logs and logs.count(REFUSED) >= 2
    events = c.cli("events", "list", "--limit", "100", "--json").stdout
    assert '"leaked"' not in events
    for text in (json.dumps(report), logs, events):
        assert SECRET not in text and "tok-98765" not in text
    assert SECRET.encode() not in store_bytes(c)


def test_a_run_sees_granted_secrets_and_never_shows_them(cluster: Cluster) -> None:
    set_secret(cluster, "db_password", SECRET)
    set_secret(cluster, "api_token", "tok-98765")
    wf = cluster.write("echoing.sloth", ECHOING)
    cluster.write("secret.txt", SECRET)  # a process that prints the secret by itself
    done = cluster.cli("run", str(wf), "-o", "json", "--show-output")
    assert done.returncode == 1, done.stderr
    assert SECRET not in done.stderr and "the password is ***" in done.stderr
    report = json.loads(done.stdout)
    logs = cluster.cli("runs", "logs", report["run_id"]).stdout
    _assert_hidden(cluster, report, logs)

    cluster.start_master()  # the master has the passphrase in its environment
    remote = cluster.cli("run", str(wf), "--master", cluster.address, "-o", "json")
    assert remote.returncode == 1, remote.stderr + cluster.logs()
    report = json.loads(remote.stdout)
    _assert_hidden(
        cluster, report, cluster.cli("runs", "logs", report["run_id"], "--master", cluster.address).stdout
    )
    assert SECRET not in cluster.logs()


def test_only_named_secrets_are_granted(cluster: Cluster) -> None:
    set_secret(cluster, "db_password", SECRET)
    set_secret(cluster, "other", "other-value-1")
    sneaky = cluster.write(
        "sneaky.sloth",
        """
local t = task("t"):command(function() return true, secrets.other end)
workflow.define("sneaky"):tasks({ t }):config({ stack = "prod", secrets = { "db_password" } })
""",
    )
    done = cluster.cli("run", str(sneaky), "-o", "json")
    assert done.returncode == 1
    assert "secret 'other' is not granted" in json.loads(done.stdout)["tasks"][0]["error"]
    missing = cluster.write(
        "missing.sloth",
        """
local t = task("t"):command(function() return true end)
workflow.define("missing"):tasks({ t }):config({ stack = "prod", secrets = { "nope" } })
""",
    )
    absent = cluster.cli("run", str(missing))
    assert absent.returncode == 1 and "needs secret 'nope'" in absent.stderr


def test_redactor_hides_values_and_their_lines() -> None:
    from sloth_engine.secrets import Redactor

    hide = Redactor(["s3cret", "multi\nline-two\n", "ab"])
    assert hide.text("x s3cret y s3crets") == "x *** y ***s"
    assert hide.text("line-two") == "***" and hide.text("ab") == "ab"  # too short to hide
    assert hide.value({"k": ["s3cret", 1, ("multi",)]}) == {"k": ["***", 1, ("***",)]}
    assert not Redactor([])
