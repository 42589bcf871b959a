"""The dependency rule of DESIGN.md for the console: sloth_tui reaches the master only through
sloth_daemon.client: it imports no grpc itself and never the store."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = (
    "grpc",
    "grpc_health",
    "sloth_engine.store",
    "sloth_daemon.gen",
    "sloth_daemon.master",
    "peewee",
    "apsw",
)


def test_console_modules_import_no_grpc_and_no_store() -> None:
    bad = []
    for path in sorted((ROOT / "sloth_tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert not bad, bad


def test_the_running_console_loads_no_store() -> None:
    code = (
        "import sys\n"
        "import sloth_tui.app, sloth_tui.cli, sloth_tui.screens.run_detail, sloth_tui.screens.stacks\n"
        "from sloth_daemon.client import MasterClient\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('sloth_engine.store', 'sloth_daemon.master', 'peewee', 'apsw')))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"the console loaded {done.stdout.strip()}"
