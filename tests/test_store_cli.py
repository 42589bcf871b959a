"""`state ...` and `runs ...` commands against a real store on both backends."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from sloth_daemon.cli import runs_cmd, state_cmd
from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RunStatus


class Cli:
    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url, self.capsys = url, capsys
        parser = argparse.ArgumentParser(prog="sloth-daemon")
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--db", default=None)
        sub = parser.add_subparsers(dest="command")
        state_cmd.register(sub, [common])
        runs_cmd.register(sub, [common])
        self.parser = parser

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        args = self.parser.parse_args([*argv, "--db", self.url])
        code = args.func(args)
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def cli(store_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(store_url, capsys)


def test_set_get_list_delete(cli: Cli, store: Any) -> None:
    assert cli("state", "set", "greeting", "hello")[0] == 0
    assert cli("state", "set", "cfg", '{"replicas": 3, "tags": ["a"]}', "--namespace", "team")[0] == 0
    assert cli("state", "set", "n", "42")[0] == 0
    assert store.state.get("default", "n") == 42  # valid JSON is stored as JSON
    assert store.state.get("team", "cfg") == {"replicas": 3, "tags": ["a"]}
    assert cli("state", "get", "greeting") == (0, '"hello"\n', "")
    assert cli("state", "get", "greeting", "--raw") == (0, "hello\n", "")
    code, out, _ = cli("state", "get", "cfg", "-n", "team")
    assert code == 0 and json.loads(out) == {"replicas": 3, "tags": ["a"]}
    code, out, err = cli("state", "get", "missing")
    assert (code, out) == (1, "") and "no key 'missing'" in err
    code, out, _ = cli("state", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["KEY", "TYPE", "VALUE", "EXPIRES", "UPDATED"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["greeting", "string", "hello"],
        ["n", "integer", "42"],
    ]
    code, out, _ = cli("state", "list", "--json", "-n", "team", "--prefix", "c")
    assert [(e["key"], e["value"], e["type"]) for e in json.loads(out)] == [
        ("cfg", {"replicas": 3, "tags": ["a"]}, "table")
    ]
    assert cli("state", "delete", "greeting")[0] == 0
    code, _, err = cli("state", "delete", "greeting")
    assert code == 1 and "no key 'greeting'" in err


def test_set_with_ttl(cli: Cli, store: Any) -> None:
    assert cli("state", "set", "temp", "x", "--ttl", "30s")[0] == 0
    (entry,) = store.state.entries("default")
    assert entry.expires_at is not None and entry.expires_at > entry.updated_at + 29
    code, _, err = cli("state", "set", "temp", "x", "--ttl", "soon")
    assert code == 2 and "invalid duration" in err and "Traceback" not in err


def test_lock_unlock_locks(cli: Cli, store: Any) -> None:
    code, out, _ = cli("state", "lock", "deploy", "--ttl", "30s", "--holder", "alice", "--reason", "rollout")
    assert code == 0 and int(out) == store.state.lock_info("deploy").token
    code, out, err = cli("state", "lock", "deploy", "--ttl", "30s", "--holder", "bob", "--wait", "100ms")
    assert code == 1 and out == "" and "held by alice" in err and "rollout" in err
    code, out, _ = cli("state", "locks")
    header, row = out.splitlines()
    assert header.split() == ["NAME", "HOLDER", "TOKEN", "SINCE", "EXPIRES", "REASON"]
    assert row.split()[:2] == ["deploy", "alice"] and row.rstrip().endswith("rollout")
    code, out, _ = cli("state", "locks", "--json")
    assert [(i["name"], i["holder"]) for i in json.loads(out)] == [("deploy", "alice")]
    code, _, err = cli("state", "unlock", "deploy", "--holder", "bob")
    assert code == 1 and "held by alice, not bob" in err
    assert cli("state", "unlock", "deploy", "--holder", "alice")[0] == 0
    code, _, err = cli("state", "unlock", "deploy", "--holder", "alice")
    assert code == 1 and "not held" in err
    cli("state", "lock", "deploy", "--ttl", "30s", "--holder", "carol")
    assert cli("state", "unlock", "deploy", "--force")[0] == 0
    assert cli("state", "locks")[2] == "no locks held\n"


def test_runs_list_show_logs(cli: Cli, store: Any) -> None:
    runs = store.runs
    runs.create_run("run-a", "deploy", "deploy.sloth", "prod", {"env": "prod"}, 1000.0)
    runs.write_batch(
        [
            {
                "run_id": "run-a",
                "task": "build",
                "attempt": 1,
                "status": "success",
                "duration_s": 1.5,
                "outputs": {"artifact": "app.bin"},
            },
            {
                "run_id": "run-a",
                "task": "ship",
                "attempt": 1,
                "status": "failed",
                "error": "exit 3",
                "exit_code": 3,
            },
        ],
        [
            ("run-a", "build", 1, "stdout", 1, 1000.1, "compiling"),
            ("run-a", "ship", 1, "stderr", 2, 1000.2, "permission denied"),
        ],
        [],
    )
    RunTransition("run-a", "deploy", store, exists=True).finish(
        RunStatus.FAILED, 2.0, "task ship failed", at=1002.0
    )
    runs.create_run("run-b", "backup", "backup.sloth", None, {}, 2000.0)
    code, out, _ = cli("runs", "list")
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [
        ["run-b", "backup", "running"],
        ["run-a", "deploy", "failed"],
    ]
    code, out, _ = cli("runs", "list", "--workflow", "deploy", "--json")
    assert [r["run_id"] for r in json.loads(out)] == ["run-a"]
    code, out, _ = cli("runs", "show", "run-a")
    assert code == 0
    assert "task ship failed" in out and "app.bin" in out and "exit 3" in out and "1.50s" in out
    code, out, _ = cli("runs", "show", "run-a", "--json")
    assert [t["task"] for t in json.loads(out)["tasks"]] == ["build", "ship"]
    assert cli("runs", "logs", "run-a")[1] == "[build#1] compiling\n[ship#1] ! permission denied\n"
    assert cli("runs", "logs", "run-a", "build")[1] == "compiling\n"
    code, _, err = cli("runs", "show", "nope")
    assert code == 1 and "no run 'nope'" in err


def test_unreachable_store_is_a_message(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    cli = Cli(f"sqlite:///{tmp_path}/missing/dir/x.db", capsys)
    code, out, err = cli("state", "list")
    assert code == 1 and out == "" and err.startswith("error: cannot open") and "Traceback" not in err
