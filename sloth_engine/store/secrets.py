"""The `secrets` and `secrets_key` tables: sealed values per (stack, name) and the key's check row.

Only ciphertext passes through here; sloth_engine.secrets.vault encrypts and decrypts.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sloth_engine.store import Store

_UPSERT = (
    "INSERT INTO secrets (stack, name, nonce, ciphertext, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (stack, name) DO UPDATE SET nonce = excluded.nonce, "
    "ciphertext = excluded.ciphertext, updated_at = excluded.updated_at RETURNING created_at"
)
_KEY_INSERT = (
    "INSERT INTO secrets_key (id, kdf, salt, params, check_value, created_at) "
    "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)


class SecretInfo(NamedTuple):
    stack: str
    name: str
    created_at: float
    updated_at: float


class KeyRow(NamedTuple):
    """The store's key description: how it is derived and a value sealed under it."""

    kdf: str
    salt: str
    params: str
    check_value: str


class SecretRows:
    def __init__(self, store: Store) -> None:
        self._b = store.backend

    def put(self, stack: str, name: str, nonce: str, sealed: str, now: float) -> bool:
        """Store a sealed value (base64 texts); True when it is new, False when it replaced one."""
        created = self._b.write(self._b.sql(_UPSERT), (stack, name, nonce, sealed, now, now))
        return bool(created) and created[0][0] == now

    def sealed(self, stack: str, name: str) -> tuple[str, str] | None:
        """(nonce, ciphertext) of the value, or None."""
        sql = self._b.sql("SELECT nonce, ciphertext FROM secrets WHERE stack = ? AND name = ?")
        row = self._b.query_one(sql, (stack, name))
        return (row[0], row[1]) if row else None

    def list(self, stack: str | None = None) -> list[SecretInfo]:
        sql = "SELECT stack, name, created_at, updated_at FROM secrets"
        params: tuple[Any, ...] = ()
        if stack is not None:
            sql, params = sql + " WHERE stack = ?", (stack,)
        rows = self._b.query_all(self._b.sql(sql + " ORDER BY stack, name"), params)
        return [SecretInfo(*r) for r in rows]

    def delete(self, stack: str, name: str) -> bool:
        sql = self._b.sql("DELETE FROM secrets WHERE stack = ? AND name = ? RETURNING name")
        return bool(self._b.write(sql, (stack, name)))

    def key_row(self) -> KeyRow | None:
        row = self._b.query_one("SELECT kdf, salt, params, check_value FROM secrets_key WHERE id = 1")
        return KeyRow(*row) if row else None

    def add_key_row(self, key: KeyRow, now: float) -> KeyRow:
        """Write the key row unless another process did first; the row that is there."""
        self._b.execute(self._b.sql(_KEY_INSERT), (*key, now))
        row = self.key_row()
        assert row is not None
        return row
