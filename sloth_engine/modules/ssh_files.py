"""SFTP operations of the `ssh` module (coroutines run on the SSH loop; see ssh_client).

Each returns the original's values: `true` or `false, message`; `true, value` or
`nil, message` for the ones that answer something.
"""

from __future__ import annotations

import os
import posixpath
import stat as stat_module
from typing import Any

import asyncssh

from sloth_engine.modules.ssh_client import Connection, reason

FAILURES = (OSError, asyncssh.Error)


def _info(name: str, attrs: asyncssh.SFTPAttrs) -> dict[str, Any]:
    mode = attrs.permissions or 0
    return {
        "name": name,
        "size": attrs.size or 0,
        "mode": stat_module.filemode(mode),
        "is_dir": stat_module.S_ISDIR(mode),
        "mod_time": int(attrs.mtime or 0),
    }


async def upload(conn: Connection, local: str, remote: str) -> Any:
    try:
        sftp = await conn.files()
        await sftp.put(local, remote, preserve=True)
    except FAILURES as exc:
        return False, f"failed to upload {local} to {remote}: {reason(exc)}"
    return True


async def download(conn: Connection, remote: str, local: str) -> Any:
    try:
        sftp = await conn.files()
        await sftp.get(remote, local, preserve=True)
    except FAILURES as exc:
        return False, f"failed to download {remote} to {local}: {reason(exc)}"
    return True


async def upload_dir(conn: Connection, local: str, remote: str) -> Any:
    """The contents of `local` into `remote` (made with its parents), as the original."""
    if not os.path.isdir(local):
        return False, f"failed to upload directory: {local} is not a directory"
    try:
        sftp = await conn.files()
        for folder, _dirs, files in os.walk(local):
            relative = os.path.relpath(folder, local)
            target = remote if relative == "." else posixpath.join(remote, *relative.split(os.sep))
            await sftp.makedirs(target, exist_ok=True)
            for name in sorted(files):
                await sftp.put(os.path.join(folder, name), posixpath.join(target, name), preserve=True)
    except FAILURES as exc:
        return False, f"failed to upload directory: {reason(exc)}"
    return True


async def _fetch_tree(sftp: asyncssh.SFTPClient, remote: str, local: str) -> None:
    os.makedirs(local, exist_ok=True)
    for entry in await sftp.readdir(remote):
        name = str(entry.filename)
        if name in (".", ".."):
            continue
        source, target = posixpath.join(remote, name), os.path.join(local, name)
        mode = entry.attrs.permissions or 0
        if stat_module.S_ISDIR(mode):
            await _fetch_tree(sftp, source, target)
        elif stat_module.S_ISREG(mode):
            await sftp.get(source, target, preserve=True)
        # links, sockets, devices: not copied (a link could point anywhere on the host)


async def download_dir(conn: Connection, remote: str, local: str) -> Any:
    try:
        sftp = await conn.files()
        if not await sftp.isdir(remote):
            return False, f"failed to download directory: {remote} is not a directory"
        await _fetch_tree(sftp, remote, local)
    except FAILURES as exc:
        return False, f"failed to download directory: {reason(exc)}"
    return True


async def exists(conn: Connection, path: str) -> Any:
    try:
        sftp = await conn.files()
        return await sftp.exists(path)
    except FAILURES as exc:
        return False, reason(exc)


async def stat(conn: Connection, path: str) -> Any:
    try:
        sftp = await conn.files()
        attrs = await sftp.stat(path)
    except FAILURES as exc:
        return None, f"failed to stat {path}: {reason(exc)}"
    return True, _info(posixpath.basename(path.rstrip("/")) or "/", attrs)


async def list_dir(conn: Connection, path: str) -> Any:
    try:
        sftp = await conn.files()
        entries = await sftp.readdir(path)
    except FAILURES as exc:
        return None, f"failed to list directory {path}: {reason(exc)}"
    found = [_info(str(e.filename), e.attrs) for e in entries if str(e.filename) not in (".", "..")]
    return True, sorted(found, key=lambda item: item["name"])


async def mkdir(conn: Connection, path: str) -> Any:
    try:
        sftp = await conn.files()
        await sftp.makedirs(path, exist_ok=True)
    except FAILURES as exc:
        return False, f"failed to create directory {path}: {reason(exc)}"
    return True


async def remove(conn: Connection, path: str, recursive: bool) -> Any:
    """A file, an empty folder, or (recursive) a whole tree."""
    try:
        sftp = await conn.files()
        if await sftp.isdir(path):
            await (sftp.rmtree(path) if recursive else sftp.rmdir(path))
        else:
            await sftp.remove(path)
    except FAILURES as exc:
        return False, f"failed to remove {path}: {reason(exc)}"
    return True


async def rename(conn: Connection, old: str, new: str) -> Any:
    """OpenSSH's posix-rename (replaces `new` atomically) where the server has it."""
    try:
        sftp = await conn.files()
        try:
            await sftp.posix_rename(old, new)
        except asyncssh.SFTPOpUnsupported:
            await sftp.rename(old, new)
    except FAILURES as exc:
        return False, f"failed to rename {old} to {new}: {reason(exc)}"
    return True


async def chmod(conn: Connection, path: str, mode: int) -> Any:
    try:
        sftp = await conn.files()
        await sftp.chmod(path, mode)
    except FAILURES as exc:
        return False, f"failed to chmod {path}: {reason(exc)}"
    return True


async def chown(conn: Connection, path: str, uid: int, gid: int) -> Any:
    try:
        sftp = await conn.files()
        await sftp.chown(path, uid, gid)
    except FAILURES as exc:
        return False, f"failed to chown {path}: {reason(exc)}"
    return True
