"""Where the secrets key comes from: a key file or a passphrase (stretched with Argon2id).

`SLOTH_SECRETS_KEY_FILE` names a file holding 32 random bytes (raw, 64 hex digits, or base64);
otherwise `SLOTH_SECRETS_PASSPHRASE` (or a prompt the caller supplies) gives a passphrase that
Argon2id turns into the key with the store's salt. Derived keys are cached per process so a
master firing many runs pays the KDF once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sloth_engine.errors import SecretsError

KEY_BYTES = 32
ARGON2_PARAMS = {"iterations": 2, "lanes": 1, "memory_cost": 64 * 1024}
"""Argon2id cost: 64 MiB, 2 passes (~0.2 s here). Stored with the salt, so it may change later."""

_cache: dict[tuple[str, str, str], bytes] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class KeyMaterial:
    """A key file's key, or a passphrase still to be stretched."""

    kind: str  # "keyfile" | "passphrase"
    secret: bytes

    def describe(self) -> str:
        return "the key file (SLOTH_SECRETS_KEY_FILE)" if self.kind == "keyfile" else "the passphrase"


def key_material(
    environ: Mapping[str, str] | None = None, prompt: Callable[[], str] | None = None
) -> KeyMaterial:
    """The key material from the environment, else from `prompt`; SecretsError when none."""
    env = os.environ if environ is None else environ
    key_file = env.get("SLOTH_SECRETS_KEY_FILE")
    if key_file:
        return KeyMaterial("keyfile", read_key_file(key_file))
    passphrase = env.get("SLOTH_SECRETS_PASSPHRASE")
    if not passphrase and prompt is not None:
        passphrase = prompt()
    if not passphrase:
        raise SecretsError(
            "secrets need a key: set SLOTH_SECRETS_PASSPHRASE or SLOTH_SECRETS_KEY_FILE "
            "(a file of 32 random bytes, e.g. `head -c 32 /dev/urandom > key`)"
        )
    return KeyMaterial("passphrase", passphrase.encode("utf-8"))


def read_key_file(path: str) -> bytes:
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise SecretsError(f"cannot read the secrets key file {path}: {exc.strerror}") from None
    if len(data) == KEY_BYTES:
        return data
    text = data.strip()
    for decode in (binascii.unhexlify, base64.b64decode):
        try:
            key = decode(text)
        except (binascii.Error, ValueError):
            continue
        if len(key) == KEY_BYTES:
            return key
    raise SecretsError(f"the secrets key file {path} must hold 32 bytes (raw, 64 hex digits or base64)")


def derive_key(material: KeyMaterial, salt: bytes, params: Mapping[str, Any]) -> bytes:
    """The AES-256 key: a key file's bytes as they are, a passphrase through Argon2id."""
    if material.kind == "keyfile":
        return material.secret
    cache_key = (
        hashlib.sha256(material.secret).hexdigest(),
        salt.hex(),
        repr(sorted(params.items())),
    )
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    key = Argon2id(salt=salt, length=KEY_BYTES, **params).derive(material.secret)
    with _cache_lock:
        _cache[cache_key] = key
    return key
