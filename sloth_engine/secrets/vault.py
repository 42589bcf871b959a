"""The `secrets` and `secrets_key` tables: AES-256-GCM values per (stack, name).

The first secret written creates the store's key row: a random salt, the KDF parameters and a
check value (a known text encrypted under the key). Every later use decrypts the check value
first, so a wrong passphrase is an error before anything is read or written. Each value is
encrypted with a fresh 96-bit nonce and the associated data "stack\\0name".
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from sloth_engine.errors import NotFound, SecretsError
from sloth_engine.secrets.keys import ARGON2_PARAMS, KeyMaterial, derive_key
from sloth_engine.store import Store
from sloth_engine.store.secrets import KeyRow, SecretInfo, SecretRows

CHECK_TEXT = b"sloth-runner secrets key check v1"
CHECK_AD = b"sloth-secrets-check"


class SecretVault:
    """Secrets of one store. Listing and deleting need no key; reading and writing do."""

    def __init__(
        self, store: Store, material: KeyMaterial | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.rows = SecretRows(store)
        self.material = material
        self.clock = clock
        self._key: bytes | None = None

    # ---- values ---------------------------------------------------------------------------

    def set(self, stack: str, name: str, value: str) -> bool:
        """Store a value; True when it is new, False when it replaced one."""
        _check_name(stack, name)
        nonce = os.urandom(12)
        sealed = self._aead().encrypt(nonce, value.encode("utf-8"), _ad(stack, name))
        return self.rows.put(stack, name, _b64(nonce), _b64(sealed), self.clock())

    def get(self, stack: str, name: str) -> str:
        row = self.rows.sealed(stack, name)
        if row is None:
            raise NotFound(f"no secret '{name}' in stack '{stack}'")
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._aead().decrypt(_unb64(row[0]), _unb64(row[1]), _ad(stack, name))
        except InvalidTag:
            raise SecretsError(f"secret '{name}' of stack '{stack}' does not decrypt (damaged)") from None
        return plain.decode("utf-8")

    def grant(self, stack: str, names: Sequence[str], workflow: str = "") -> dict[str, str]:
        """The values a workflow named in config.secrets; a clear error for a missing one."""
        granted = {}
        for name in names:
            try:
                granted[name] = self.get(stack, name)
            except NotFound:
                who = f"workflow '{workflow}'" if workflow else "the workflow"
                raise SecretsError(
                    f"{who} needs secret '{name}', which stack '{stack}' does not have "
                    f"(secrets set {name} --stack {stack})"
                ) from None
        return granted

    def list(self, stack: str | None = None) -> list[SecretInfo]:
        return self.rows.list(stack)

    def delete(self, stack: str, name: str) -> None:
        if not self.rows.delete(stack, name):
            raise NotFound(f"no secret '{name}' in stack '{stack}'")

    # ---- the key ----------------------------------------------------------------------------

    def _aead(self) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if self._key is None:
            self._key = self._unlock()
        return AESGCM(self._key)

    def _unlock(self) -> bytes:
        if self.material is None:
            raise SecretsError("secrets need a key: set SLOTH_SECRETS_PASSPHRASE or SLOTH_SECRETS_KEY_FILE")
        row = self.rows.key_row() or self._create_key_row()
        kdf, salt, params, check = row
        key = derive_key(self.material, _unb64(salt), json.loads(params))
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        blob = _unb64(check)
        try:
            AESGCM(key).decrypt(blob[:12], blob[12:], CHECK_AD)
        except InvalidTag:
            made_with = "a key file" if kdf == "keyfile" else "a passphrase"
            raise SecretsError(
                f"wrong {'key file' if self.material.kind == 'keyfile' else 'passphrase'}: "
                f"this store's secrets were encrypted with another key (made with {made_with})"
            ) from None
        return key

    def _create_key_row(self) -> KeyRow:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self.material is not None
        salt, params = os.urandom(16), dict(ARGON2_PARAMS)
        key = derive_key(self.material, salt, params)
        nonce = os.urandom(12)
        check = nonce + AESGCM(key).encrypt(nonce, CHECK_TEXT, CHECK_AD)
        kdf = "keyfile" if self.material.kind == "keyfile" else "argon2id"
        mine = KeyRow(kdf, _b64(salt), json.dumps(params), _b64(check))
        return self.rows.add_key_row(mine, self.clock())  # another process may have won the race


def _check_name(stack: str, name: str) -> None:
    if not name or not name.strip():
        raise SecretsError("a secret needs a name")
    if not stack:
        raise SecretsError("a secret needs a stack (--stack)")


def _ad(stack: str, name: str) -> bytes:
    return f"{stack}\0{name}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)
