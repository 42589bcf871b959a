"""One CLI grammar (issue 19, item 3): every command's --help walked for the shared flags and
examples; -o json, statuses, run references, exit codes, completion and daemon logs used end to
end against real SQLite files and a real master."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from distributed_cluster import Cluster, wait_for

from sloth_daemon.cli import main as cli_main
from sloth_daemon.cli.examples import commands

NO_DATA = {
    # Commands that change something and say so on stderr (or run a daemon): no -o.
    "state set", "state delete", "state unlock", "runs cancel", "master", "agent", "agent exec",
    "agent stop", "agent install", "agent update", "hook add", "hook delete", "hook enable", "hook disable", "events clear",
    "secrets set", "secrets delete", "scheduler add", "scheduler delete", "scheduler enable",
    "scheduler disable", "stack new", "stack delete", "stack lock release",
    "stack lock force-release", "stack snapshot create", "stack snapshot restore",
    "stack snapshot delete", "stack drift fix", "stack deps check", "stack deps add",
    "stack deps remove", "sysadmin restore", "sysadmin init-store", "token revoke",
    "token delete", "certs init", "completion", "version",
}  # fmt: skip
CONFIRMS = {
    "stack delete", "stack snapshot restore", "stack drift fix", "sysadmin restore", "certs init",
}  # fmt: skip
"""Commands that ask before they change something: --yes (-y, --auto-approve) answers."""
LOCAL_ONLY = {"version", "completion", "certs init"}
"""Commands that never talk to a master or a store: no --master, no --token."""


def help_of(path: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        cli_main.main([*path.split(), "--help"])
    assert done.value.code == 0, path
    return capsys.readouterr().out


def leaves() -> list[tuple[str, argparse.ArgumentParser]]:
    return [
        (name, parser)
        for name, parser in commands(cli_main.build_parser())
        if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
        or parser.get_default("func") is not None
    ]


def test_every_command_help_has_the_shared_flags_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    found = leaves()
    names = {name for name, _ in found}
    assert len(found) > 80 and {"runs logs", "stack deps graph", "agent run", "master"} <= names
    assert NO_DATA | CONFIRMS | LOCAL_ONLY <= names  # the lists name real commands
    for name, _parser in commands(cli_main.build_parser()):
        text = help_of(name, capsys)
        assert re.search(r"\nexamples:\n  .*sloth-daemon ", text), f"`{name} --help` has no examples"
    for name, parser in found:
        text = help_of(name, capsys)
        if name not in NO_DATA:
            assert re.search(r"-o [a-z|]*json[a-z|]*, --output", text), f"`{name}` lacks -o/--output"
            assert parser.parse_args(["-o", "json"] + _required(parser)).output == "json", name
            legacy = parser.parse_args(["--json"] + _required(parser))
            assert legacy.output == "json", f"`{name} --json` is not -o json"
        assert "--json" not in text and "--auto-approve" not in text, f"`{name}` shows a hidden alias"
        if name in CONFIRMS:
            assert "--yes" in text and "-y" in text, f"`{name}` lacks --yes"
            for spelling in ("--yes", "-y", "--auto-approve"):
                parsed = parser.parse_args([spelling] + _required(parser))
                assert (parsed.yes if hasattr(parsed, "yes") else parsed.force) is True, (name, spelling)
        if name not in LOCAL_ONLY:
            assert "--master" in text and "--token" in text, f"`{name}` lacks --master/--token"
        for action in parser._actions:  # a short flag means one thing everywhere
            for flag, dests in (("-o", {"output"}), ("-y", {"yes", "force"}), ("-v", {"values"})):
                if flag in action.option_strings:
                    assert action.dest in dests, (name, flag, action.dest)
            if "--values" in action.option_strings:
                assert "-v" in action.option_strings, name


def _required(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the positional arguments (and required options) so that parsing succeeds."""
    words: list[str] = []
    for action in parser._actions:
        if action.option_strings:
            if action.required:
                words += [action.option_strings[0], _value(action)]
        elif action.nargs not in ("?", "*", argparse.REMAINDER) and not isinstance(
            action, argparse._SubParsersAction
        ):
            words.append(_value(action))
    return words


def _value(action: argparse.Action) -> str:
    return str(next(iter(action.choices))) if action.choices else "1"


def test_root_help_documents_exit_codes_and_both_versions_agree() -> None:
    text = sloth("--help").stdout
    for code, words in (("0", "success"), ("1", "failed"), ("2", "bad usage"), ("3", "not recorded"),
                        ("4", "cannot reach the master"), ("130", "interrupted")):  # fmt: skip
        assert re.search(rf"^  {code} +.*{words}", text, re.M), (code, text)
    assert sloth("--version").stdout == sloth("version").stdout
    assert sloth("version").stdout.startswith("sloth-runner ")


# ---- against a real SQLite store --------------------------------------------------------------

WORKFLOW = """
local a = task("a"):command("echo alpha")
local b = task("b"):depends_on({ a }):command("echo beta; echo oops >&2")
workflow.define("pair"):tasks({ a, b })
"""


def sloth(*args: str, home: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")}
    if home is not None:
        environ["SLOTH_HOME"] = str(home)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=home,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "pair.sloth").write_text(WORKFLOW, encoding="utf-8")
    for _ in range(2):
        assert sloth("run", "pair.sloth", home=tmp_path).returncode == 0
    return tmp_path


def test_output_json_on_the_store(home: Path) -> None:
    (home / "bad.sloth").write_text('task("x"):command(', encoding="utf-8")
    for args in (
        ("runs", "list"),
        ("runs", "show", "last"),
        ("events", "list"),
        ("events", "show", "1"),
        ("state", "list"),
        ("state", "locks"),
        ("hook", "list"),
        ("scheduler", "list"),
        ("token", "list"),
        ("stack", "list"),
        ("agent", "list"),
        ("workflow", "show", "pair.sloth"),
        ("workflow", "list", "."),
        ("workflow", "validate", "pair.sloth"),
        ("sysadmin", "health"),
    ):
        done = sloth(*args, "-o", "json", home=home)
        assert done.returncode in (0, 1), (args, done.stderr)  # `workflow list` sees bad.sloth
        json.loads(done.stdout)  # one JSON document
    for args in (("events", "show", "1"), ("runs", "show", "last"), ("workflow", "validate", "pair.sloth")):
        text = sloth(*args, "--output", "text", home=home)
        assert text.returncode == 0 and text.stdout and text.stdout.lstrip()[0] not in "[{", args
    lines = sloth("runs", "logs", "last", "-o", "json", home=home).stdout.splitlines()
    found = [(d["task"], d["attempt"], d["stream"], d["line"]) for d in map(json.loads, lines)]
    assert found[0] == ("a", 1, "stdout", "alpha")  # b's two streams may come in either order
    assert sorted(found[1:]) == [("b", 1, "stderr", "oops"), ("b", 1, "stdout", "beta")]


def test_legacy_spellings_still_work(home: Path) -> None:
    assert json.loads(sloth("runs", "list", "--json", home=home).stdout)[0]["workflow"] == "pair"
    assert sloth("stack", "new", "web", home=home).returncode == 0
    exported = sloth("stack", "export", "web", "--format", "yaml", "-o", "web.yaml", home=home)
    assert exported.returncode == 0, exported.stderr
    assert yaml.safe_load((home / "web.yaml").read_text())["name"] == "web"
    assert json.loads(sloth("stack", "export", "web", "-o", "json", home=home).stdout)["name"] == "web"
    sloth("stack", "export", "web", "-o", "yaml", "--out", "again.yaml", home=home)
    assert (home / "again.yaml").read_text() == (home / "web.yaml").read_text()
    backup = sloth("sysadmin", "backup", "-o", "copy.db", home=home)
    assert backup.returncode == 0 and (home / "copy.db").stat().st_size > 0, backup.stderr
    info = json.loads(sloth("sysadmin", "backup", "--out", "copy2.db", "-o", "json", home=home).stdout)
    assert info["path"].endswith("copy2.db") and info["integrity"] == "ok"
    refused = sloth("sysadmin", "restore", "copy.db", home=home)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert sloth("sysadmin", "restore", "copy.db", "--auto-approve", home=home).returncode == 0
    graph = json.loads(sloth("stack", "deps", "graph", "web", "--format", "json", home=home).stdout)
    assert graph == {"stack": "web", "depends_on": {"web": []}}


def test_one_status_vocabulary(home: Path) -> None:
    runs = json.loads(sloth("runs", "list", "-o", "json", home=home).stdout)
    assert {r["status"] for r in runs} == {"success"}
    for word in ("success", "succeeded", "SUCCESSFUL", "ok"):
        found = json.loads(sloth("runs", "list", "--status", word, "-o", "json", home=home).stdout)
        assert [r["run_id"] for r in found] == [r["run_id"] for r in runs], word
    assert json.loads(sloth("runs", "list", "--status", "failure", "-o", "json", home=home).stdout) == []
    wrong = sloth("runs", "list", "--status", "great", home=home)
    assert wrong.returncode == 2
    assert "unknown run status 'great'" in wrong.stderr
    assert "running, success, failed, cancelled, abandoned" in wrong.stderr


def test_last_and_id_prefixes(home: Path) -> None:
    newest, older = (r["run_id"] for r in json.loads(sloth("runs", "list", "-o", "json", home=home).stdout))
    assert json.loads(sloth("runs", "show", "last", "-o", "json", home=home).stdout)["run_id"] == newest
    random_part = older.rsplit("-", 1)[1]
    for ref in (older, random_part[:4], older[:-3]):
        shown = sloth("runs", "show", ref, "-o", "json", home=home)
        assert json.loads(shown.stdout)["run_id"] == older, ref
    assert sloth("runs", "logs", random_part[:5], "a", home=home).stdout == "alpha\n"
    date = newest[:8]
    ambiguous = sloth("runs", "logs", date, home=home)
    assert ambiguous.returncode == 2
    assert f"run id prefix '{date}' is ambiguous" in ambiguous.stderr
    assert newest in ambiguous.stderr and older in ambiguous.stderr
    missing = sloth("runs", "show", "zzzz", home=home)
    assert missing.returncode == 1 and "no run 'zzzz'" in missing.stderr
    assert sloth("runs", "show", "50%", home=home).returncode == 1  # no LIKE pattern from input


def test_unreachable_master_exits_4(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    (tmp_path / "pair.sloth").write_text(WORKFLOW, encoding="utf-8")
    for args in (("runs", "list"), ("state", "get", "k"), ("run", "pair.sloth"), ("master", "status")):
        done = sloth(*args, "--master", closed, home=tmp_path)
        assert done.returncode == 4, (args, done.returncode, done.stderr)
        assert "master unavailable" in done.stderr and "Traceback" not in done.stderr
    failed = tmp_path / "fail.sloth"
    failed.write_text('workflow.define("f"):tasks({ task("x"):command("exit 3") })', encoding="utf-8")
    assert sloth("run", "fail.sloth", home=tmp_path).returncode == 1
    assert sloth("runs", "list", "--bogus", home=tmp_path).returncode == 2


# ---- runs logs --follow -------------------------------------------------------------------------

FOLLOWED = """
local talk = task("talk"):command("echo one; while [ ! -f {gate} ]; do sleep 0.05; done; echo two")
workflow.define("talky"):tasks({{ talk }})
"""


class Lines:
    """A process's stdout lines, read by a thread (waits have deadlines, never fixed sleeps)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout: float = 60.0) -> str | None:
        return self.lines.get(timeout=timeout)


@contextlib.contextmanager
def following(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[tuple[Any, Lines]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, Lines(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_runs_logs_follow_on_the_store(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    (tmp_path / "talky.sloth").write_text(FOLLOWED.format(gate=gate), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")} | {"SLOTH_HOME": str(tmp_path)}
    run = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", "talky.sloth"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _line_count(env, tmp_path) >= 1, 60, "the first line in the store")
        with following(["runs", "logs", "last", "--follow"], env, tmp_path) as (proc, lines):
            assert lines.next() == "[talk#1] one"
            assert proc.poll() is None  # still following: the run waits for the gate
            gate.write_text("open")
            assert lines.next() == "[talk#1] two"
            assert lines.next() is None
            assert proc.wait(timeout=60) == 0
            assert "success" in (proc.stderr.read() if proc.stderr else "")
    finally:
        run.kill() if run.poll() is None else None
        run.wait(timeout=30)


def _line_count(env: dict[str, str], cwd: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", "runs", "logs", "last", "-o", "json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return len(done.stdout.splitlines()) if done.returncode == 0 else 0


# ---- through a real master --------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    found = Cluster(tmp_path)
    try:
        found.start_master("127.0.0.1:0", "--log-format", "json", "--log-level", "info")
        yield found
    finally:
        found.close()


def test_through_a_master(cluster: Cluster) -> None:
    gate = cluster.root / "gate"
    cluster.write("talky.sloth", FOLLOWED.format(gate=gate))
    cluster.write("pair.sloth", WORKFLOW)
    address = cluster.address
    assert cluster.cli("run", "pair.sloth", "--master", address).returncode == 0
    submitted = cluster.cli("run", "talky.sloth", "--master", address, "--detach")
    run_id = submitted.stdout.strip()
    assert submitted.returncode == 0 and run_id, submitted.stderr
    env = cluster.env()
    follow = ["runs", "logs", run_id[-8:-3], "--follow", "--master", address]
    with following(follow, env, cluster.root) as (proc, lines):
        assert lines.next() == "[talk#1] one"
        assert proc.poll() is None
        gate.write_text("open")
        assert lines.next() == "[talk#1] two"
        assert lines.next() is None  # each line once: the store's and the feed's are not doubled
        assert proc.wait(timeout=60) == 0
    assert cluster.cli("runs", "show", "last", "--master", address, "-o", "json").returncode == 0
    shown = json.loads(cluster.cli("runs", "show", "last", "--master", address, "-o", "json").stdout)
    assert shown["run_id"] == run_id and shown["status"] == "success"
    listed = cluster.cli_json("runs", "list", "--status", "succeeded", "--master", address, "-o", "json")
    assert {r["status"] for r in listed} == {"success"} and len(listed) == 2
    wrong = cluster.cli("runs", "list", "--status", "great", "--master", address)
    assert wrong.returncode == 2 and "valid statuses are" in wrong.stderr
    ambiguous = cluster.cli("runs", "show", run_id[:8], "--master", address)
    assert ambiguous.returncode == 2 and "is ambiguous" in ambiguous.stderr, ambiguous.stderr
    logged = [json.loads(line) for line in (cluster.root / "master.log").read_text().splitlines()]
    assert logged and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d["ts"]) for d in logged)


def test_master_status_without_ha(cluster: Cluster) -> None:
    done = cluster.cli("master", "status", "--master", cluster.address)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"leader:   {cluster.address} (this master: started without --ha)\nstandbys: none\n"
    status = cluster.cli_json("master", "status", "--master", cluster.address, "-o", "json")
    assert status["ha"] is False and status["standbys"] == []
    assert status["leader"]["epoch"] >= 1 and status["this"]["role"] == "leader"


def test_agent_logs_have_timestamps(cluster: Cluster) -> None:
    cluster.start_agent("stamped")
    text = (cluster.root / "agent-stamped.log").read_text()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(rf"^{stamp} WARNING sloth_daemon.agent: agent stamped dialing", text, re.M), text


# ---- completion ---------------------------------------------------------------------------------


def test_completion_scripts_load_in_bash(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "sloth-daemon").exists()
    script = sloth("completion", "bash", home=tmp_path)
    assert script.returncode == 0 and "_python_argcomplete" in script.stdout
    (tmp_path / "complete.bash").write_text(script.stdout, encoding="utf-8")
    probe = (
        "source complete.bash && complete -p sloth-daemon && complete -p sloth-runner && "
        'COMP_LINE="sloth-daemon runs l" && COMP_POINT=${#COMP_LINE} && '
        "COMP_WORDS=(sloth-daemon runs l) && COMP_CWORD=2 && "
        '_python_argcomplete sloth-daemon l runs && echo "${COMPREPLY[@]}" && '
        'COMP_LINE="sloth-daemon runs list -o " && COMP_POINT=${#COMP_LINE} && '
        "COMP_WORDS=(sloth-daemon runs list -o '') && COMP_CWORD=4 && "
        '_python_argcomplete sloth-daemon "" -o && echo "${COMPREPLY[@]}"'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")}
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '')}", SLOTH_HOME=str(tmp_path))
    done = subprocess.run(
        ["bash", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "-F _python_argcomplete sloth-daemon" in lines[0] and "sloth-runner" in lines[1]
    assert lines[2].split() == ["list", "logs"]
    assert sorted(lines[3].split()) == ["json", "text"]
    for shell in ("zsh", "fish"):
        other = sloth("completion", shell, home=tmp_path)
        assert other.returncode == 0 and "sloth-daemon" in other.stdout, shell
    assert sloth("completion", "tcsh", home=tmp_path).returncode == 2
