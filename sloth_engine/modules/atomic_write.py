"""Replace a file's content atomically: a temporary file in the same folder, then rename.

Readers see the old content or the new one, never a half-written file; a crash leaves the old
file in place. The replaced file keeps its mode (and owner, where we may set it) unless a mode
is given.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

DEFAULT_MODE = 0o644


def read_bytes(path: str) -> bytes | None:
    """The file's content, None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def current_mode(path: str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def write_atomic(path: str, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` through a temporary file and a rename in the same folder."""
    folder = os.path.dirname(path) or "."
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".sloth")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mode is None:
            mode = stat.S_IMODE(old.st_mode) if old is not None else DEFAULT_MODE
        os.chmod(temp, mode)
        if old is not None and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.chown(temp, old.st_uid, old.st_gid)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def set_mode(path: str, mode: int | None) -> bool:
    """chmod when the mode differs; whether it did."""
    if mode is None:
        return False
    if current_mode(path) == mode:
        return False
    os.chmod(path, mode)
    return True
