"""`fs`: files and folders.

Relative paths resolve against the task's workdir when it has one, else the process cwd;
`~` is expanded.

Error convention: queries that may legitimately fail return `nil, "message"` (as in the
original): `read`, `ls`, `size`. Changes raise a Lua error at the caller's line when they fail
(`write`, `append`, `mkdir`, `rm`, `rmr`/`rm_r`, `copy`) and return true otherwise, so
`local ok = fs.write(...)` still works. `mkdir` is recursive and accepts an existing folder;
`rmr` of a missing path succeeds; `rm` of a missing file is an error.
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
import tempfile
from typing import Any

from sloth_engine.lua.limits import MAX_READ_BYTES, MiB
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv


def _text(value: Any, what: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise ModuleError(f"fs: {what} must be a string")
    return str(value)


def _why(exc: OSError) -> str:
    return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)


def go_basename(path: str) -> str:
    """filepath.Base: trailing slashes dropped, '' -> '.', all slashes -> '/'."""
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if stripped == "":
        return "/"
    return stripped.rsplit("/", 1)[-1]


def go_dirname(path: str) -> str:
    """filepath.Dir: everything but the last element, cleaned; '' -> '.'."""
    head = path[: path.rfind("/") + 1] if "/" in path else ""
    if head == "":
        return "."
    cleaned = os.path.normpath(head)
    return "/" if cleaned.startswith("//") else cleaned


class _Files:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def path(self, value: Any) -> str:
        raw = os.path.expanduser(_text(value, "path"))
        base = self.sandbox.scope.workdir or os.getcwd()
        return os.path.normpath(os.path.join(base, raw))

    def read(self, path: Any) -> Any:
        full = self.path(path)
        try:
            with open(full, "rb") as handle:
                data = handle.read(MAX_READ_BYTES + 1)
        except OSError as exc:
            return None, _why(exc)
        if len(data) > MAX_READ_BYTES:
            return None, f"{full} is larger than fs.read's {MAX_READ_BYTES // MiB} MiB limit"
        return data.decode("utf-8", "replace")

    def _put(self, path: Any, content: Any, mode: str) -> bool:
        with open(self.path(path), mode, encoding="utf-8") as handle:
            handle.write(_text(content, "content"))
        return True

    def write(self, path: Any, content: Any = "") -> bool:
        return self._put(path, content, "w")

    def append(self, path: Any, content: Any = "") -> bool:
        return self._put(path, content, "a")

    def exists(self, path: Any) -> bool:
        return os.path.exists(self.path(path))

    def is_dir(self, path: Any) -> bool:
        return os.path.isdir(self.path(path))

    def is_file(self, path: Any) -> bool:
        return os.path.isfile(self.path(path))

    def mkdir(self, path: Any, mode: Any = None) -> bool:
        # Modes arrive as 493 or as the text "0755"; text is read as octal.
        bits = int(mode, 8) if isinstance(mode, str) else int(mode or 0o755)
        os.makedirs(self.path(path), mode=bits, exist_ok=True)
        return True

    def rm(self, path: Any) -> bool:
        full = self.path(path)
        if os.path.isdir(full) and not os.path.islink(full):
            os.rmdir(full)
        else:
            os.remove(full)
        return True

    def rmr(self, path: Any) -> bool:
        full = self.path(path)
        if full in ("/", os.path.expanduser("~")):
            raise ModuleError(f"fs.rmr: refusing to remove {full}")
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.remove(full)
        return True

    def ls(self, path: Any = ".") -> Any:
        try:
            return sorted(os.listdir(self.path(path)))
        except OSError as exc:
            return None, _why(exc)

    def size(self, path: Any) -> Any:
        try:
            return os.path.getsize(self.path(path))
        except OSError as exc:
            return None, _why(exc)

    def copy(self, src: Any, dst: Any) -> bool:
        source, target = self.path(src), self.path(dst)
        if os.path.isdir(source):
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
        return True

    def tmpname(self, prefix: Any = "sloth-") -> str:
        handle, name = tempfile.mkstemp(prefix=_text(prefix, "prefix"))
        os.close(handle)
        os.remove(name)
        return name

    def glob(self, pattern: Any) -> list[str]:
        text = os.path.expanduser(_text(pattern, "pattern"))
        base = self.sandbox.scope.workdir or os.getcwd()
        return sorted(_glob.glob(text, root_dir=base, recursive=True))


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    files = _Files(sandbox)
    sandbox.set_module(
        "fs",
        {
            "read": files.read,
            "write": files.write,
            "append": files.append,
            "exists": files.exists,
            "is_dir": files.is_dir,
            "is_file": files.is_file,
            "mkdir": files.mkdir,
            "rm": files.rm,
            "rmr": files.rmr,
            "rm_r": files.rmr,
            "ls": files.ls,
            "size": files.size,
            "copy": files.copy,
            "tmpname": files.tmpname,
            "glob": files.glob,
            "basename": lambda path: go_basename(_text(path, "path")),
            "dirname": lambda path: go_dirname(_text(path, "path")),
        },
    )
