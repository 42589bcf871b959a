"""A run's bundle: the workflow file and the files of its folder that it imports or requires.

A run submitted to a master travels as a bundle, so that a task on an agent can `import` a
sibling file as it does locally. The files are found by reading the sources for
`import("...")` and `require("...")` calls with a literal name (followed through the files
they name); a name computed at run time is not seen. Only files inside the workflow's folder
are taken, at most MAX_BUNDLE_FILES of them and MAX_BUNDLE_BYTES in all (workflow file
included), else the submission is refused with a DslError naming the file.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from sloth_engine.errors import DslError

MAX_BUNDLE_FILES = 64
MAX_BUNDLE_BYTES = 6 * 1024 * 1024
"""The whole bundle (workflow file, imported files) fits one 8 MiB gRPC message with room."""

_CALL = re.compile(r"""\b(import|require)\s*\(?\s*(["'])([^"'\n]+)\2""")


def module_path(kind: str, name: str) -> str | None:
    """The relative file an `import(name)` / `require(name)` reads (None: a built-in module)."""
    if kind == "import":
        return name
    if not re.search(r"[./]", name):
        return None  # `require("git")`: the module of that name, not a file
    return name if name.endswith(".lua") else name.replace(".", "/") + ".lua"


def collect(path: str | Path, source: str) -> dict[str, str]:
    """{relative path: text} of the files `source` (the file at `path`) imports, transitively."""
    base = Path(path).resolve().parent
    files: dict[str, str] = {}
    total = len(source.encode("utf-8", "replace"))
    todo = [source]
    while todo:
        for kind, _quote, name in _CALL.findall(todo.pop()):
            rel = module_path(kind, name)
            rel = None if rel is None else posixpath.normpath(rel)
            if rel is None or rel in files:
                continue
            target = (base / rel).resolve()
            if not target.is_relative_to(base) or not target.is_file():
                continue  # the load on the other side reports it, as a local run would
            try:
                text = target.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            total += len(text.encode("utf-8", "replace"))
            if len(files) >= MAX_BUNDLE_FILES or total > MAX_BUNDLE_BYTES:
                raise DslError(
                    f"the run's bundle is too large: at most {MAX_BUNDLE_FILES} imported files and "
                    f"{MAX_BUNDLE_BYTES // (1024 * 1024)} MiB in all (at '{rel}')",
                    str(path),
                )
            files[rel] = text
            todo.append(text)
    return files


def check(files: dict[str, str], source: str, path: str) -> None:
    """Refuse a bundle sent by someone else that is over the bounds or names outside files."""
    total = len(source.encode("utf-8", "replace")) + sum(
        len(t.encode("utf-8", "replace")) for t in files.values()
    )
    if len(files) > MAX_BUNDLE_FILES or total > MAX_BUNDLE_BYTES:
        raise DslError(
            f"the run's bundle is too large: at most {MAX_BUNDLE_FILES} imported files and "
            f"{MAX_BUNDLE_BYTES // (1024 * 1024)} MiB in all",
            path,
        )
    for rel in files:
        parts = Path(rel).parts
        if not rel or Path(rel).is_absolute() or ".." in parts:
            raise DslError(f"bundle file '{rel}' is not inside the workflow's folder", path)
