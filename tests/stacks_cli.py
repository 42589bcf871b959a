"""Helpers of the stack tests: the real CLI in a subprocess against one store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CLI_TIMEOUT_S = 60


class Result:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code = done.returncode
        self.out = done.stdout
        self.err = done.stderr

    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


class Sloth:
    """`sloth(*args)` runs `python -m sloth_daemon.cli.main ARGS --db URL` in `cwd`."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url = url
        self.cwd = cwd
        self.env = {**os.environ, "SLOTH_HOME": str(cwd / "home"), "NO_COLOR": "1"}
        self.env.pop("SLOTH_MASTER", None)
        # Bytecode caching on, as for a user: else every process compiles the modules again.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sloth_daemon.cli.main", *args, "--db", self.url]

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        done = subprocess.run(
            self.argv(*args),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            input=stdin if stdin is not None else "",
        )
        return Result(done)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, result
        assert "Traceback" not in result.err, result
        return result

    def batch(self, *commands: tuple[str, ...]) -> list[Result]:
        """Several commands that change nothing, run at the same time; their results in order."""
        procs = [self.popen(*args) for args in commands]
        results = []
        try:
            for proc in procs:
                out, err = proc.communicate(timeout=CLI_TIMEOUT_S)
                results.append(Result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err)))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return results

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lua_string(text: str) -> str:
    return json.dumps(text)


class InProcessCli:
    """The same commands through `sloth_daemon.cli.main.main(argv)` in this process: the CLI's
    parser, handlers, exit codes and output, without paying a Python start per command (the
    command-coverage tests; real processes are used where processes matter)."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url = url
        self.cwd = cwd

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        import contextlib
        import io

        from sloth_daemon.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([*args, "--db", self.url])
            except SystemExit as exc:  # argparse errors
                code = int(exc.code or 0)
        return Result(subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue()))

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, result
        assert "Traceback" not in result.err, result
        return result

    def batch(self, *commands: tuple[str, ...]) -> list[Result]:
        return [self(*args) for args in commands]
