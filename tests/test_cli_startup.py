"""The command line builds only the parser a command needs, and a run imports no other command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sloth_daemon.cli.main import COMMAND_MODULES, build_parser, main, parser_for
from sloth_engine import run_owner


def _commands(parser: object) -> set[str]:
    sub = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
    return set(sub.choices)


def test_each_command_module_registers_the_command_it_is_named_after() -> None:
    for module in COMMAND_MODULES:
        name = module.removesuffix("_cmd")
        assert _commands(build_parser([name])) == {name, "version"}
    assert _commands(build_parser()) == {m.removesuffix("_cmd") for m in COMMAND_MODULES} | {"version"}


def test_a_named_command_gets_its_parser_alone_and_anything_else_gets_every_command() -> None:
    assert _commands(parser_for(["run", "x.sloth", "-o", "json"])) == {"run", "version"}
    assert _commands(parser_for(["--version"])) == {"version"}
    everything = _commands(build_parser())
    assert _commands(parser_for([])) == everything
    assert _commands(parser_for(["--help"])) == everything
    assert _commands(parser_for(["rnu", "x"])) == everything


def test_a_typo_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["rnu", "x.sloth"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'rnu'" in err
    for module in COMMAND_MODULES:
        assert f"'{module.removesuffix('_cmd')}'" in err


def test_version_without_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "0." in capsys.readouterr().out


def test_a_local_run_imports_neither_other_commands_nor_psutil(tmp_path: Path) -> None:
    flow = tmp_path / "one.sloth"
    flow.write_text('workflow.define("one"):tasks({ task("a"):command("true") })\n')
    probe = (
        "import json, sys\n"
        "from sloth_daemon.cli.main import main\n"
        "code = main(['run', sys.argv[1], '-o', 'json', '--db', sys.argv[2]])\n"
        "loaded = sorted(m for m in sys.modules if m.endswith('_cmd') or m.split('.')[0] == 'psutil')\n"
        "print(json.dumps({'code': code, 'loaded': loaded}), file=sys.stderr)\n"
    )
    env = {**os.environ, "SLOTH_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(flow), f"sqlite:///{tmp_path / 'sloth.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "success"
    assert report["loaded"] == ["sloth_daemon.cli.run_cmd", "sloth_daemon.cli.workflow_cmd"]


def test_start_time_from_proc_agrees_with_psutil() -> None:
    import psutil

    for pid in (1, os.getpid(), os.getppid()):
        assert run_owner._start_time(pid) == pytest.approx(psutil.Process(pid).create_time(), abs=0.02)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child_pid = child.pid
    try:
        # Exited but not reaped: a zombie counts as gone.
        os.waitid(os.P_PID, child_pid, os.WEXITED | os.WNOWAIT)
        assert run_owner._start_time(child_pid) is None
    finally:
        child.wait()
    assert run_owner._start_time(child_pid) is None
