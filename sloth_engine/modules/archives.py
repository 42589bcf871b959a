"""Unpack tar (any compression) and zip archives with the standard library, idempotently and
without ever writing outside the destination.

Refused: absolute member names, names with `..` that leave the destination, symbolic links
pointing outside it, device files and fifos, and writes through an existing symbolic link that
leads out of the destination. Only members that differ from what is on disk are written
(regular files through a temporary file and a rename), so unpacking twice changes nothing.
"""

from __future__ import annotations

import functools
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import Literal, NamedTuple

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules.atomic_write import DEFAULT_MODE, current_mode, write_atomic

WHERE = "file_ops.unarchive"


class Member(NamedTuple):
    name: str
    kind: Literal["file", "dir", "symlink"]
    mode: int | None
    target: str = ""
    """Link target of a symlink."""
    read: Callable[[], bytes] = lambda: b""


def members(path: str) -> Iterator[Member]:
    """The members of a tar or zip archive, in archive order."""
    if zipfile.is_zipfile(path):
        yield from _zip_members(path)
        return
    try:
        archive = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise ModuleError(f"{WHERE}: {path} is not a tar or zip archive ({exc})") from None
    with archive:
        for info in archive:
            yield _tar_member(archive, info)


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    mode = info.mode & 0o777 if info.mode is not None else None
    if info.isdir():
        return Member(info.name, "dir", mode)
    if info.issym():
        return Member(info.name, "symlink", None, info.linkname)
    if info.isreg() or info.islnk():

        def read() -> bytes:
            handle = archive.extractfile(info)
            if handle is None:
                raise ModuleError(f"{WHERE}: cannot read member {info.name}")
            with handle:
                return handle.read()

        return Member(info.name, "file", mode, read=read)
    raise ModuleError(f"{WHERE}: member {info.name} is a device file or fifo: refused")


def _zip_members(path: str) -> Iterator[Member]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            unix = info.external_attr >> 16
            mode = stat.S_IMODE(unix) or None
            if info.is_dir():
                yield Member(info.filename, "dir", mode)
            elif stat.S_ISLNK(unix):
                yield Member(info.filename, "symlink", None, archive.read(info).decode())
            else:
                yield Member(info.filename, "file", mode, read=functools.partial(archive.read, info))


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def target_path(root: str, name: str) -> str:
    """Where a member goes; ModuleError when that is outside `root`."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or os.path.isabs(clean):
        raise ModuleError(f"{WHERE}: member {name!r} has an absolute path: refused")
    path = os.path.normpath(os.path.join(root, clean))
    if not _inside(root, path):
        raise ModuleError(f"{WHERE}: member {name!r} would be written outside {root}: refused")
    return path


def _check_link(root: str, path: str, target: str, name: str) -> None:
    if os.path.isabs(target):
        raise ModuleError(f"{WHERE}: symlink {name!r} points to absolute path {target!r}: refused")
    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
    if not _inside(root, resolved):
        raise ModuleError(f"{WHERE}: symlink {name!r} points outside {root}: refused")


def _same(member: Member, path: str) -> bool:
    if member.kind == "dir":
        return os.path.isdir(path) and not os.path.islink(path)
    if member.kind == "symlink":
        return os.path.islink(path) and os.readlink(path) == member.target
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    data = member.read()
    if os.path.getsize(path) != len(data):
        return False
    with open(path, "rb") as handle:
        if handle.read() != data:
            return False
    return member.mode is None or current_mode(path) == member.mode


def unpack(sandbox: Sandbox, archive: str, dest: str, check: bool) -> list[str]:
    """Unpack into `dest` (created when missing); the member names that were (in check mode:
    would be) written."""
    root = os.path.realpath(dest)
    changed: list[str] = []
    for member in members(archive):
        reason = sandbox.guard.check()
        if reason is not None:
            raise ModuleError(reason)
        path = target_path(root, member.name)
        if member.kind == "symlink":
            _check_link(root, path, member.target, member.name)
        if _same(member, path):
            continue
        changed.append(member.name)
        if not check:
            _write(root, member, path)
    return changed


def _write(root: str, member: Member, path: str) -> None:
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    # A symlink already on disk (or unpacked earlier) must not carry the write elsewhere.
    if not _inside(root, os.path.realpath(parent)):
        raise ModuleError(f"{WHERE}: {member.name!r} would be written through a link outside {root}")
    if member.kind == "dir":
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
        os.makedirs(path, exist_ok=True)
        if member.mode is not None:
            os.chmod(path, member.mode | 0o700)
        return
    if os.path.isdir(path) and not os.path.islink(path):
        raise ModuleError(f"{WHERE}: {path} is a directory, the archive has a file there")
    if member.kind == "symlink":
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(member.target, path)
        return
    if os.path.islink(path):
        os.unlink(path)
    write_atomic(path, member.read(), member.mode if member.mode is not None else DEFAULT_MODE)
