"""A sandbox with some modules installed, and fake executables first on PATH that record their
calls (for the modules over system tools that a test must not run for real)."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv


class Lua:
    def __init__(self, root: Path, modules: tuple[str, ...], check: bool = False) -> None:
        self.root = root
        self.lines: list[tuple[str, str]] = []
        self.sandbox = Sandbox()
        self.sandbox.scope = TaskScope(
            task_name="t", workdir=str(root), log=lambda stream, line: self.lines.append((stream, line))
        )
        self.env = ModuleEnv(base_dir=root, check_mode=check)
        for name in modules:
            importlib.import_module(f"sloth_engine.modules.{name}_mod").install(self.sandbox, self.env)

    def run(self, body: str, timeout: float = 150.0) -> Any:
        fn = self.sandbox.run_lua("return function() " + body + "\nend", "test.sloth")
        result = self.sandbox.call(fn, deadline=time.monotonic() + timeout)
        if isinstance(result, tuple):
            return tuple(self.sandbox.to_py(v, keep_functions=False) for v in result)
        return self.sandbox.to_py(result, keep_functions=False)

    def changes(self) -> list[str]:
        return [line for stream, line in self.lines if stream == "change"]


PY_RECORD = (
    "with open(os.environ['FAKE_LOG'], 'a') as _log:\n"
    "    _log.write(' '.join([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + '\\n')\n"
    "STATE = os.environ['FAKE_STATE']\n"
)


class Fakes:
    """Executables in a folder first on PATH; each appends `NAME ARGS` to calls.log."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin, self.state, self.log = root / "fakebin", root / "fakestate", root / "calls.log"
        self.bin.mkdir()
        self.state.mkdir()
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_LOG", str(self.log))
        monkeypatch.setenv("FAKE_STATE", str(self.state))

    def add(self, name: str, body: str, shell: str = "/bin/sh") -> None:
        """A shell script (its call recorded first), or with `shell="python3"` a Python one
        (its call recorded first too)."""
        script = self.bin / name
        if shell == "python3":
            head = f"#!{sys.executable} -S\nimport os, sys\n" + PY_RECORD
        else:
            head = f'#!{shell}\necho "$(basename "$0") $*" >> "$FAKE_LOG"\n'
        script.write_text(head + body)
        script.chmod(0o755)

    def calls(self, prefix: str = "") -> list[str]:
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix)]

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)
