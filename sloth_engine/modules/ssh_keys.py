"""Keys on this machine for the `ssh` module: private keys, key pairs, authorized_keys files.

The authorized_keys functions take the original's `{user = "name", key = "ssh-ed25519 AAAA..."}`;
the file is the user's `~/.ssh/authorized_keys` (from the password database), or `file = path`.
A key matches a line when its type and base64 body are the line's (options and comments
aside). Writes are atomic (a temporary file renamed over the old one), keep mode 0600, and are
given to the user when this process is root. `check = true` (or the run's --check) reports
what would change without writing.
"""

from __future__ import annotations

import os
import pwd
import tempfile
from typing import Any

import asyncssh

from sloth_engine.lua.sandbox import ModuleError

KEY_TYPES = {"ed25519": "ssh-ed25519", "rsa": "ssh-rsa", "ecdsa": "ecdsa-sha2-nistp256"}


def load_private_key(path: str, passphrase: str | None) -> Any:
    try:
        key = asyncssh.read_private_key(path, passphrase)
    except (OSError, asyncssh.KeyImportError, ValueError) as exc:
        return None, f"failed to load key {path}: {exc}"
    return key.export_private_key("openssh").decode()


def generate_keypair(opts: dict[str, Any], path: str | None) -> Any:
    kind = str(opts.get("type") or "ed25519")
    alg = KEY_TYPES.get(kind)
    if alg is None:
        raise ModuleError(f"ssh.generate_keypair: type must be one of {', '.join(KEY_TYPES)}, got {kind!r}")
    extra: dict[str, Any] = {"comment": str(opts["comment"])} if opts.get("comment") else {}
    if kind == "rsa":
        extra["key_size"] = int(opts.get("bits") or 3072)
    key = asyncssh.generate_private_key(alg, **extra)
    passphrase = opts.get("passphrase")
    private = key.export_private_key("openssh", passphrase or None).decode()
    public = key.export_public_key().decode().strip()
    if path is not None:
        if os.path.exists(path) and not opts.get("overwrite"):
            return None, f"{path} exists (pass overwrite = true to replace it)"
        _write(path, private, 0o600)
        _write(path + ".pub", public + "\n", 0o644)
    return {"private_key": private, "public_key": public, "fingerprint": key.get_fingerprint(), "path": path}


def _write(path: str, content: str, mode: int, owner: tuple[int, int] | None = None) -> None:
    folder = os.path.dirname(path) or "."
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".sloth-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
        os.chmod(temp, mode)
        if owner is not None:
            os.chown(temp, *owner)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _key_body(text: str) -> tuple[str, str] | None:
    """(type, base64) of a public key or an authorized_keys line, or None (not a key)."""
    words = text.strip().split()
    for index, word in enumerate(words[:-1]):
        if word.startswith(("ssh-", "ecdsa-", "sk-")):
            return word, words[index + 1]
    return None


class AuthorizedKeys:
    """One user's authorized_keys file, as the original's table options name it."""

    def __init__(self, where: str, opts: dict[str, Any], needs_key: bool = True) -> None:
        self.where = where
        user = opts.get("user")
        if not isinstance(user, str) or not user:
            raise ModuleError(f"{where}: user is required")
        self.user = user
        self.key = None
        if needs_key:
            key = opts.get("key")
            if not isinstance(key, str) or not key.strip():
                raise ModuleError(f"{where}: key is required")
            self.key = key.strip()
            if _key_body(self.key) is None:
                raise ModuleError(f"{where}: not a public key: {self.key[:40]!r}")
        try:
            self.account: pwd.struct_passwd | None = pwd.getpwnam(user)
        except KeyError:
            self.account = None
        given = opts.get("file")
        if given:
            self.path = os.path.expanduser(str(given))
        elif self.account is not None:
            self.path = os.path.join(self.account.pw_dir, ".ssh", "authorized_keys")
        else:
            raise ModuleError(f"{where}: no user {user!r} on this machine")

    def lines(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8") as source:
                return source.read().splitlines()
        except FileNotFoundError:
            return []

    def keys(self) -> list[str]:
        return [line.strip() for line in self.lines() if line.strip() and not line.strip().startswith("#")]

    def has(self) -> bool:
        wanted = _key_body(self.key or "")
        return any(_key_body(line) == wanted for line in self.keys())

    def owner(self) -> tuple[int, int] | None:
        if os.geteuid() != 0 or self.account is None:
            return None
        return self.account.pw_uid, self.account.pw_gid

    def save(self, lines: list[str]) -> None:
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700)
            owner = self.owner()
            if owner is not None:
                os.chown(folder, *owner)
        _write(self.path, "".join(line + "\n" for line in lines), 0o600, self.owner())

    def add(self, comment: str | None, check: bool) -> tuple[bool, str]:
        if self.has():
            return True, "SSH key already present (idempotent)"
        if not check:
            self.save([*self.lines(), f"{self.key} {comment}" if comment else str(self.key)])
        return True, "SSH key added successfully" + (" (check mode: not written)" if check else "")

    def remove(self, check: bool) -> tuple[bool, str]:
        if not self.has():
            return True, "SSH key not present (idempotent)"
        wanted = _key_body(self.key or "")
        if not check:
            self.save([line for line in self.lines() if _key_body(line) != wanted])
        return True, "SSH key removed successfully" + (" (check mode: not written)" if check else "")
