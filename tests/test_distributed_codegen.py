"""The generated protobuf code is what scripts/gen_protos.sh makes from protos/ today, and the
engine stays free of grpc (the dependency rule of DESIGN.md)."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "sloth_daemon" / "gen"


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gen_protos.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    committed = sorted(p.relative_to(GEN) for p in GEN.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert fresh == committed, "run scripts/gen_protos.sh: the set of generated files changed"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, GEN / p, shallow=False)]
    assert not stale, f"run scripts/gen_protos.sh: stale generated files {stale}"


def test_generated_imports_are_package_qualified() -> None:
    text = (GEN / "sloth" / "v1" / "master_pb2_grpc.py").read_text()
    assert "from sloth_daemon.gen.sloth.v1 import master_pb2" in text
    assert "\nfrom sloth.v1" not in text


def test_engine_imports_no_grpc() -> None:
    code = (
        "import sys\n"
        "import sloth_engine.run, sloth_engine.dsl, sloth_engine.store, sloth_engine.executor.dag\n"
        "import sloth_engine.executor.remote, sloth_engine.report, sloth_engine.modules\n"
        "from sloth_engine.modules import install_all\n"
        "from sloth_engine.lua.sandbox import Sandbox\n"
        "install_all(Sandbox(), __import__('sloth_engine.modules', fromlist=['ModuleEnv']).ModuleEnv())\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'grpc_health', 'sloth_daemon', 'textual'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"the engine imported {done.stdout.strip()}"
