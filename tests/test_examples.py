"""The examples/ workflows and the `run` command, end to end through the real CLI process.

Every example is run as a user would run it (`sloth-daemon run FILE --output json`) in a
subprocess with its own SLOTH_HOME; the test checks the exit code, the JSON document on
stdout, the per-task statuses and outputs, and the JUnit report. Bad input is checked the
same way: exit code 2, `file:line: problem` on stderr, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from procs import alive, gone

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
TIMEOUT = 30.0
"""Seconds any one CLI process may take before the test fails."""

RUN_KEYS = {"run_id", "workflow", "status", "duration_s", "tasks", "recap"}
TASK_KEYS = {"name", "status", "attempts", "duration_s", "agent", "message", "error", "outputs", "changes"}


def sloth(
    *args: str, home: Path, timeout: float = TIMEOUT, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a separate process, its store and run folders under `home`."""
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(home),
        cwd=cwd,
    )


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTH_")}
    env["SLOTH_HOME"] = str(home)
    return env


def run_document(stdout: str) -> dict[str, Any]:
    """stdout must be exactly one JSON document (json.loads rejects anything after it)."""
    assert stdout.lstrip().startswith("{"), stdout[:200]
    return json.loads(stdout)


def check_run_shape(doc: dict[str, Any]) -> None:
    assert RUN_KEYS <= doc.keys() <= RUN_KEYS | {"error"}, sorted(doc)
    assert isinstance(doc["run_id"], str) and doc["run_id"]
    assert isinstance(doc["duration_s"], (int, float)) and doc["duration_s"] >= 0
    for task in doc["tasks"]:
        assert set(task) == TASK_KEYS, sorted(task)
        assert isinstance(task["attempts"], int)
        assert isinstance(task["outputs"], dict)
        assert task["agent"] == "local"


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["tasks"]}


# ---- every example, with what its run must produce ---------------------------------------


@dataclass
class Example:
    file: str
    args: tuple[str, ...] = ()
    exit_code: int = 0
    run_status: str = "success"
    statuses: dict[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, dict[str, Any]], subprocess.CompletedProcess[str], Path], None] | None = None


def _hello(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["greet"]["message"] == "Hello, Ada!"
    assert tasks["greet"]["outputs"] == {"who": "Ada"}
    assert tasks["wave"]["message"] == "waved back at Ada"


def _fan(tasks: dict, proc: Any, home: Path) -> None:
    text = b"the quick brown fox\njumps over\nthe lazy dog\n"
    report = tasks["report"]["outputs"]
    assert report == {
        "words": 9,
        "lines": 3,
        "sha256_prefix": hashlib.sha256(text).hexdigest()[:12],
        "kernel": os.uname().sysname,
    }
    assert tasks["kernel"]["outputs"]["stdout"] == os.uname().sysname
    assert tasks["report"]["message"].startswith("9 words, 3 lines")


def _retries(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["prepare"]["attempts"] == 1
    assert tasks["flaky"]["attempts"] == 3
    assert tasks["flaky"]["outputs"] == {"attempt": 3}
    assert tasks["report"]["message"] == "flaky needed 3 attempts"
    assert "RETRY" in proc.stderr
    assert not Path(tasks["prepare"]["outputs"]["counter"]).exists()


def _timeouts(tasks: dict, proc: Any, home: Path) -> None:
    assert "timed out" in tasks["slow_download"]["error"]
    assert "slow_download" in tasks["install"]["message"]
    assert tasks["quick_check"]["outputs"] == {"checked": True}
    # the :on_timeout handler ran (its log line shows with --show-output)
    assert "[WARN] giving up on slow_download" in proc.stderr
    # `sleep 30` was stopped at its 300ms timeout, not waited for
    assert tasks["slow_download"]["duration_s"] < 5


def _conditions(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["after_never"]["message"] == "ran although 'never' was skipped"
    assert tasks["never"]["message"] == "run_if condition is false"


def _conditions_frozen(tasks: dict, proc: Any, home: Path) -> None:
    assert "abort_if" in tasks["deploy"]["error"]
    assert "deploy" in tasks["smoke_test"]["message"]


def _values(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["plan"]["outputs"] == {
        "app": "shop",
        "release": "2024.06",
        "replicas": 3,
        "targets": ["eu-west/shop", "us-east/shop"],
        "dry_run": True,
    }
    assert tasks["feature_flags"]["outputs"] == {"enabled": "dark_mode"}


def _artifacts(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["verify"]["outputs"] == {"contents": "dist/app.txt", "version": "1.0.0"}
    run_dirs = list((home / "runs").iterdir())
    assert len(run_dirs) == 1
    saved = run_dirs[0] / "artifacts"
    for rel in ("dist/app.txt", "dist/manifest.json", "app.tar.gz"):
        assert (saved / rel).is_file(), rel


def _goroutines(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["workers"]["outputs"] == {"sum": 30}
    assert tasks["async_await"]["outputs"] == {"ok": 2, "failed": 1}
    assert tasks["pipeline"]["outputs"] == {"last": "item-5"}
    assert "squares in finishing order: 16 9 4 1" in proc.stderr


def _table(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["lint"]["message"] == "lint passed (strict=yes)"
    assert tasks["test"]["message"] == "test passed (strict=no)"
    assert tasks["lint"]["outputs"] == {"revision": "abc1234"}
    assert tasks["publish"]["outputs"]["stdout"] == "publishing"


def _legacy_group(tasks: dict, proc: Any, home: Path) -> None:
    assert tasks["render_config"]["outputs"] == {"line": "api.staging listens on 8080"}


EXAMPLE_RUNS = {
    "hello_world": Example(
        "hello_world.sloth",
        ("--param", "name=Ada"),
        statuses={"greet": "success", "wave": "success"},
        check=_hello,
    ),
    "fan_out_join": Example(
        "fan_out_join.sloth",
        statuses=dict.fromkeys(
            ("source", "count_words", "count_lines", "checksum", "kernel", "report"), "success"
        ),
        check=_fan,
    ),
    "retries": Example(
        "retries.sloth",
        statuses=dict.fromkeys(("prepare", "flaky", "report"), "success"),
        check=_retries,
    ),
    "timeouts": Example(
        "timeouts.sloth",
        ("--show-output",),
        exit_code=1,
        run_status="failed",
        statuses={"slow_download": "timed_out", "install": "skipped", "quick_check": "success"},
        check=_timeouts,
    ),
    "conditions": Example(
        "conditions.sloth",
        statuses={
            "on_linux": "success",
            "never": "skipped",
            "after_never": "success",
            "extra": "skipped",
            "deploy": "success",
            "smoke_test": "success",
        },
        check=_conditions,
    ),
    "conditions_frozen": Example(
        "conditions.sloth",
        ("--param", "freeze=yes", "--param", "extra=yes"),
        exit_code=1,
        run_status="failed",
        statuses={
            "on_linux": "success",
            "never": "skipped",
            "after_never": "success",
            "extra": "success",
            "deploy": "failed",
            "smoke_test": "skipped",
        },
        check=_conditions_frozen,
    ),
    "values": Example(
        "values.sloth",
        ("--values", "examples/values.yaml", "--param", "release=2024.06", "--param", "dry_run=yes"),
        statuses={"plan": "success", "feature_flags": "success"},
        check=_values,
    ),
    "artifacts": Example(
        "artifacts.sloth",
        statuses=dict.fromkeys(("build", "package", "verify"), "success"),
        check=_artifacts,
    ),
    "goroutines": Example(
        "goroutines.sloth",
        ("--show-output",),
        statuses=dict.fromkeys(("workers", "async_await", "pipeline"), "success"),
        check=_goroutines,
    ),
    "table_form": Example(
        "table_form.sloth",
        statuses=dict.fromkeys(("checkout", "lint", "test", "publish"), "success"),
        check=_table,
    ),
    "legacy_group": Example(
        "legacy.sloth",
        ("--workflow", "legacy_group"),
        statuses={"fetch_config": "success", "render_config": "success"},
        check=_legacy_group,
    ),
}


@pytest.mark.parametrize("key", sorted(EXAMPLE_RUNS))
def test_example_runs(key: str, tmp_path: Path) -> None:
    example = EXAMPLE_RUNS[key]
    home, junit = tmp_path / "home", tmp_path / "report.xml"
    path = f"examples/{example.file}"
    proc = sloth("run", path, "--output", "json", "--junit", str(junit), *example.args, home=home)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == example.exit_code, proc.stderr
    doc = run_document(proc.stdout)
    check_run_shape(doc)
    assert doc["status"] == example.run_status
    tasks = by_name(doc)
    assert {n: t["status"] for n, t in tasks.items()} == example.statuses
    if example.check is not None:
        example.check(tasks, proc, home)
    _check_junit(junit, doc)


def _check_junit(path: Path, doc: dict[str, Any]) -> None:
    root = ET.parse(path).getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [t["name"] for t in doc["tasks"]]
    for case, task in zip(cases, doc["tasks"], strict=True):
        failed = task["status"] in ("failed", "timed_out")
        assert (case.find("failure") is not None) == failed, task["name"]
        skipped = task["status"] in ("skipped", "cancelled")
        assert (case.find("skipped") is not None) == skipped, task["name"]


def test_every_example_has_a_documented_run() -> None:
    files = sorted(p.name for p in EXAMPLES.glob("*.sloth"))
    assert len(files) >= 8
    covered = {e.file for e in EXAMPLE_RUNS.values()}
    assert set(files) == covered
    readme = (EXAMPLES / "README.md").read_text()
    for name in files:
        text = (EXAMPLES / name).read_text()
        assert text.startswith(f"-- {name}:"), f"{name}: header comment"
        assert f"sloth-daemon run examples/{name}" in text, f"{name}: how to run it"
        assert name in readme, f"{name} missing from examples/README.md"


def test_legacy_file_runs_both_workflows_in_order(tmp_path: Path) -> None:
    proc = sloth("run", "examples/legacy.sloth", "--output", "json", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    doc = run_document(proc.stdout)
    assert set(doc) == {"status", "duration_s", "runs"}
    assert doc["status"] == "success"
    assert [r["workflow"] for r in doc["runs"]] == ["legacy_call", "legacy_group"]
    for run in doc["runs"]:
        check_run_shape(run)
    assert doc["runs"][0]["tasks"][0]["outputs"]["stdout"] == "pong"


def test_hello_world_text_output_is_short_and_quick(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = sloth("run", "examples/hello_world.sloth", home=tmp_path / "home")
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert "Hello, world!" in proc.stderr
    assert "SUCCESS" in proc.stderr
    assert len(proc.stderr.splitlines()) <= 8
    assert wall < 10  # generous: a behaviour check, the figure lives in benchmarks/


# ---- looking at workflow files without running them ---------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.sloth")))
def test_validate_and_show(name: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    valid = sloth("workflow", "validate", f"examples/{name}", home=home)
    assert valid.returncode == 0, valid.stderr
    assert "valid" in valid.stdout
    show = sloth("workflow", "show", f"examples/{name}", "--json", home=home)
    assert show.returncode == 0, show.stderr
    described = json.loads(show.stdout)
    expected = {t for e in EXAMPLE_RUNS.values() if e.file == name for t in e.statuses}
    shown = {t["name"] for wf in described for t in wf["tasks"]}
    assert expected <= shown
    tree = sloth("workflow", "show", f"examples/{name}", home=home)
    assert tree.returncode == 0, tree.stderr
    assert "level 0" in tree.stdout


def test_workflow_list_examples(tmp_path: Path) -> None:
    proc = sloth("workflow", "list", "examples/", "--json", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert all(row.get("error") is None for row in rows), rows
    names = {row["workflow"] for row in rows}
    assert {
        "hello_world",
        "fan_out_join",
        "retries",
        "timeouts",
        "conditions",
        "values",
        "artifacts",
        "goroutines",
        "table_form",
        "legacy_call",
        "legacy_group",
    } <= names
    text = sloth("workflow", "list", "examples/", home=tmp_path / "home")
    assert text.returncode == 0 and "hello_world" in text.stdout


def test_plan_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "plan.sloth"
    path.write_text(
        f"""
local a = task("make_marker"):command("touch {marker}")
local b = task("after"):depends_on({{ a }}):command(function() error("must not run") end)
workflow.define("planned"):tasks({{ a, b }})
"""
    )
    proc = sloth("run", str(path), "--plan", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert "make_marker" in proc.stdout and "after" in proc.stdout
    assert "level 1" in proc.stdout
    assert not marker.exists()
    assert not (tmp_path / "home" / "runs").exists()


# ---- bad input: exit code 2, file:line and the problem, no traceback ----------------------

BAD_INPUTS = {
    "syntax_error": ('local a = task("a")\n  :command("true")\nlocal x = = 1\n', 3, "syntax error"),
    "unknown_method": (
        'local a = task("a")\n  :command("true")\n  :frobnicate(1)\nworkflow.define("w"):tasks({ a })\n',
        3,
        "frobnicate",
    ),
    "unknown_dependency": (
        'local a = task("a"):command("true")\nlocal b = task("b"):command("true"):depends_on({ "nope" })\n'
        'workflow.define("w"):tasks({ a, b })\n',
        2,
        "nope",
    ),
    "cycle": (
        'local a = task("a"):command("true"):depends_on({ "b" })\n'
        'local b = task("b"):command("true"):depends_on({ "a" })\n'
        'workflow.define("w"):tasks({ a, b })\n',
        1,
        "cycle",
    ),
    "bad_duration": (
        'local a = task("a")\n  :command("true")\n  :timeout("5 parsecs")\nworkflow.define("w"):tasks({ a })\n',
        3,
        "5 parsecs",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_file(case: str, tmp_path: Path) -> None:
    source, _, problem = BAD_INPUTS[case]
    path = tmp_path / f"{case}.sloth"
    path.write_text(source)
    home = tmp_path / "home"
    for args in (("run", str(path), "--output", "json"), ("workflow", "validate", str(path))):
        proc = sloth(*args, home=home)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert f"{case}.sloth" in proc.stderr and problem in proc.stderr, proc.stderr
        assert proc.stdout == ""
    assert not (home / "runs").exists()


@pytest.mark.parametrize(
    "case",
    [c for c in sorted(BAD_INPUTS)],
)
def test_bad_input_names_the_line(case: str, tmp_path: Path) -> None:
    source, line, _ = BAD_INPUTS[case]
    path = tmp_path / f"{case}.sloth"
    path.write_text(source)
    proc = sloth("workflow", "validate", str(path), home=tmp_path / "home")
    assert proc.returncode == 2
    assert f"{case}.sloth:{line}:" in proc.stderr, proc.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    proc = sloth("run", str(tmp_path / "nowhere.sloth"), home=tmp_path / "home")
    assert proc.returncode == 2
    assert "nowhere.sloth" in proc.stderr and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_failing_task_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "fails.sloth"
    path.write_text(
        """
local ok = task("ok"):command("true")
local shell = task("shell"):command("echo broken >&2; exit 3")
local lua = task("lua"):command(function()
  error("lua broke")
end)
local after = task("after"):depends_on({ shell }):command("true")
workflow.define("fails"):tasks({ ok, shell, lua, after })
"""
    )
    proc = sloth("run", str(path), "--output", "json", home=tmp_path / "home")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = run_document(proc.stdout)
    check_run_shape(doc)
    assert doc["status"] == "failed"
    tasks = by_name(doc)
    assert {n: t["status"] for n, t in tasks.items()} == {
        "ok": "success",
        "shell": "failed",
        "lua": "failed",
        "after": "skipped",
    }
    assert tasks["shell"]["outputs"]["exit_code"] == 3
    assert "fails.sloth:5:" in tasks["lua"]["error"] and "lua broke" in tasks["lua"]["error"]


# ---- interrupting a run ---------------------------------------------------------------------

INTERRUPTED = {
    "shell": 'task("long"):command("echo $$ > {pidfile}; exec sleep 60")',
    "exec_run": 'task("long"):command(function() exec.run("echo $$ > {pidfile}; exec sleep 60") end)',
}


@pytest.mark.parametrize("kind", sorted(INTERRUPTED))
def test_sigint_stops_the_run_and_its_processes(kind: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    path = tmp_path / "long.sloth"
    path.write_text(INTERRUPTED[kind].format(pidfile=pidfile) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(path), "--output", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path / "home"),
        cwd=REPO,
    )
    child = None
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and child is None:
            text = pidfile.read_text().strip() if pidfile.exists() else ""
            child = int(text) if text else None
            time.sleep(0.02)
        assert child is not None, "the task never started"
        assert alive(child)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert gone(child, within=5), "the task's process outlived the run"
        doc = run_document(stdout)
        assert doc["status"] == "cancelled"
        assert doc["tasks"][0]["status"] == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_standalone_agent_runs_a_workflow_here(tmp_path: Path) -> None:
    """The original's standalone mode: `agent run FILE` with no master is a local run."""
    done = sloth("agent", "run", str(EXAMPLES / "hello_world.sloth"), "-o", "json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "success"
    refused = sloth("agent", "--name", "lonely", home=tmp_path)
    assert refused.returncode == 2 and "agent run FILE" in refused.stderr
