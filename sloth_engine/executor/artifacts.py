"""Artifacts between tasks: files a task saves after success, copied in for tasks that consume them.

They live in the run's folder (`$SLOTH_HOME/runs/<run_id>/artifacts`), keyed by their path
relative to the producing task's workdir.
"""

from __future__ import annotations

import glob
import shutil
from pathlib import Path


def folder(run_dir: Path) -> Path:
    return run_dir / "artifacts"


def save(run_dir: Path, patterns: list[str], cwd: Path) -> str | None:
    """Copy files matching the globs into the run's artifacts; a message when one matches nothing."""
    target = folder(run_dir)
    for pattern in patterns:
        matches = [Path(m) for m in glob.glob(pattern, root_dir=cwd, recursive=True)]
        if not matches:
            return f"artifact pattern '{pattern}' matched no file in {cwd}"
        for rel in matches:
            if rel.is_absolute() or ".." in rel.parts:
                return f"artifact '{rel}' is outside the task's workdir"
            source = cwd / rel
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(source, dest)
    return None


def consume(run_dir: Path, names: list[str], cwd: Path) -> str | None:
    """Copy the named artifacts (globs allowed) into cwd; a message when one is missing."""
    source_root = folder(run_dir)
    for name in names:
        matches = [Path(m) for m in glob.glob(name, root_dir=source_root, recursive=True)]
        if not matches:
            return f"artifact '{name}' was not produced by any finished task of this run"
        for rel in matches:
            dest = cwd / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            source = source_root / rel
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(source, dest)
    return None
