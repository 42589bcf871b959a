"""Workflow state: typed key/value pairs per namespace, with TTLs, atomic increments and CAS.

An expired key reads as absent everywhere (get, exists, keys) and is overwritten by the next
write; `purge_expired()` removes the rows. Values keep their type (see store.values; one value
is at most 1 MiB of JSON). Writes are single statements or one transaction, so a failed write
leaves nothing behind. Locks (leases with fencing tokens) live in store.locks and are reached
through the same object.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from sloth_engine.durations import parse_duration
from sloth_engine.errors import StateValueError, UsageError
from sloth_engine.store.backend import Backend, Rollback
from sloth_engine.store.locks import LeaseKeeper, LockGrant, LockInfo, LockTable, StopCheck
from sloth_engine.store.values import Encoded, decode, encode, same

_COLUMNS = 'namespace, "key", "value", value_type, version, expires_at, owner, updated_at'
_SET = (
    f"INSERT INTO kv ({_COLUMNS}) VALUES (?, ?, ?, ?, 1, ?, ?, ?) "
    'ON CONFLICT (namespace, "key") DO UPDATE SET "value" = excluded."value", '
    "value_type = excluded.value_type, version = kv.version + 1, "
    "expires_at = excluded.expires_at, owner = excluded.owner, updated_at = excluded.updated_at"
)
_GET = 'SELECT "value", value_type, expires_at FROM kv WHERE namespace = ? AND "key" = ?'
_LOCKING_GET = (  # with row locks: insert an expired placeholder or lock the row, and read it
    f"INSERT INTO kv ({_COLUMNS}) VALUES (?, ?, 'null', 'string', 0, 0, '', 0) "
    'ON CONFLICT (namespace, "key") DO UPDATE SET namespace = kv.namespace '
    'RETURNING "value", value_type, expires_at'
)
_DELETE = 'DELETE FROM kv WHERE namespace = ? AND "key" = ? RETURNING expires_at'
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_SAFE_INT = 2**62
"""Counters below this (and deltas) cannot overflow a 64-bit integer when added in SQL."""
_ADD_INT = (
    'UPDATE kv SET "value" = CAST(CAST("value" AS {int}) + ? AS TEXT), version = version + 1, '
    "owner = ?, updated_at = ? WHERE namespace = ? AND \"key\" = ? AND value_type = 'integer' "
    f'AND {_LIVE} AND abs(CAST("value" AS {{int}})) < {_SAFE_INT} RETURNING "value"'
)
_ENTRIES = (
    'SELECT "key", "value", value_type, version, expires_at, owner, updated_at FROM kv '
    f"WHERE namespace = ? AND {_LIVE}"
)


class StateEntry(NamedTuple):
    """One live key with its metadata."""

    namespace: str
    key: str
    value: Any
    value_type: str
    version: int
    expires_at: float | None
    owner: str
    updated_at: float


class StateStore:
    """The state API shared by the Lua `state` module, the CLI and the master."""

    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self._b = backend
        self.clock = clock
        sql = backend.sql
        self._set_sql, self._get_sql, self._delete_sql = sql(_SET), sql(_GET), sql(_DELETE)
        self._locked_get_sql = sql(_LOCKING_GET if backend.row_locks else _GET)
        self._add_int_sql = sql(_ADD_INT.format(int=backend.int_type))
        self._entries_sql = sql(_ENTRIES)
        self._prefix_sql = sql(_ENTRIES + ' AND substr("key", 1, ?) = ?')
        self._keys_sql = sql(f'SELECT "key" FROM kv WHERE namespace = ? AND {_LIVE}')
        self._keys_prefix_sql = sql(
            f'SELECT "key" FROM kv WHERE namespace = ? AND {_LIVE} AND substr("key", 1, ?) = ?'
        )
        self._locks = LockTable(backend, lambda: self.clock())

    # ---- reads ----------------------------------------------------------------------

    def get(self, namespace: str, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default` when absent or expired."""
        row = self._b.query_one(self._get_sql, (namespace, key))
        if row is None or (row[2] is not None and row[2] <= self.clock()):
            return default
        return decode(row[0], row[1])

    def exists(self, namespace: str, key: str) -> bool:
        row = self._b.query_one(self._get_sql, (namespace, key))
        return row is not None and (row[2] is None or row[2] > self.clock())

    def keys(self, namespace: str, prefix: str = "") -> list[str]:
        """Live keys of `namespace` starting with `prefix`, sorted (code point order)."""
        if prefix:
            params: tuple[Any, ...] = (namespace, self.clock(), len(prefix), prefix)
            rows = self._b.query_all(self._keys_prefix_sql, params)
        else:
            rows = self._b.query_all(self._keys_sql, (namespace, self.clock()))
        return sorted(r[0] for r in rows)

    def entries(self, namespace: str, prefix: str = "") -> list[StateEntry]:
        """Live keys with their values and metadata, sorted by key."""
        if prefix:
            params: tuple[Any, ...] = (namespace, self.clock(), len(prefix), prefix)
            rows = self._b.query_all(self._prefix_sql, params)
        else:
            rows = self._b.query_all(self._entries_sql, (namespace, self.clock()))
        entries = [
            StateEntry(namespace, k, decode(v, t), t, ver, exp, owner or "", upd)
            for k, v, t, ver, exp, owner, upd in rows
        ]
        return sorted(entries, key=lambda e: e.key)

    def namespaces(self) -> list[str]:
        rows = self._b.query_all(
            self._b.sql(f"SELECT DISTINCT namespace FROM kv WHERE {_LIVE}"), (self.clock(),)
        )
        return sorted(r[0] for r in rows)

    # ---- writes ---------------------------------------------------------------------

    def set(
        self, namespace: str, key: str, value: Any, ttl: float | str | None = None, owner: str = ""
    ) -> None:
        """Store `value` (None deletes the key); `ttl` seconds or a duration like '30s'."""
        if value is None:
            self.delete(namespace, key)
            return
        text, kind = encode(key, value)
        now = self.clock()
        expires = now + _ttl(key, ttl) if ttl is not None else None
        self._b.execute(self._set_sql, (namespace, key, text, kind, expires, owner, now))

    def set_with_ttl(self, namespace: str, key: str, value: Any, ttl: float | str, owner: str = "") -> None:
        self.set(namespace, key, value, ttl=ttl, owner=owner)

    def delete(self, namespace: str, key: str) -> bool:
        """Remove `key`; True if it held a live value."""
        rows = self._b.write(self._delete_sql, (namespace, key))
        return bool(rows) and (rows[0][0] is None or rows[0][0] > self.clock())

    def increment(self, namespace: str, key: str, delta: int | float = 1, owner: str = "") -> int | float:
        """Add `delta` to a numeric key (absent counts as 0) atomically; the new value."""
        if isinstance(delta, bool) or not isinstance(delta, (int, float)):
            raise StateValueError(key, f"increment needs a number, not {type(delta).__name__}")
        if type(delta) is int and abs(delta) < _SAFE_INT:
            # The common case, a live integer counter, in one atomic statement.
            now = self.clock()
            rows = self._b.write(self._add_int_sql, (delta, owner, now, namespace, key, now))
            if rows:
                return int(rows[0][0])
        result: int | float = delta
        with self._b.transaction():
            row, now = self._locked_read(namespace, key)
            expires = None
            if row is not None:
                current = decode(row[0], row[1])
                if isinstance(current, bool) or not isinstance(current, (int, float)):
                    raise StateValueError(key, f"cannot increment a {row[1]} value")
                result, expires = current + delta, row[2]
            text, kind = encode(key, result)
            self._b.execute(self._set_sql, (namespace, key, text, kind, expires, owner, now))
        return result

    def compare_and_swap(
        self,
        namespace: str,
        key: str,
        expected: Any,
        new: Any,
        ttl: float | str | None = None,
        owner: str = "",
    ) -> bool:
        """Set `key` to `new` only if it holds `expected` (None: only if absent). New None deletes."""
        encoded = encode(key, new) if new is not None else None
        if type(expected) is Encoded:
            expected = expected.value()
        seconds = _ttl(key, ttl) if ttl is not None else None
        swapped = False
        with self._b.transaction():
            row, now = self._locked_read(namespace, key)
            if expected is None:
                matches = row is None
            else:
                matches = row is not None and same(decode(row[0], row[1]), expected)
            if not matches:
                raise Rollback
            if encoded is None:
                self._b.execute(self._delete_sql, (namespace, key))
            else:
                expires = now + seconds if seconds is not None else None
                params = (namespace, key, encoded[0], encoded[1], expires, owner, now)
                self._b.execute(self._set_sql, params)
            swapped = True
        return swapped

    def purge_expired(self) -> int:
        """Delete expired rows; how many went."""
        rows = self._b.write(self._b.sql("DELETE FROM kv WHERE expires_at <= ? RETURNING 1"), (self.clock(),))
        return len(rows)

    def _locked_read(self, namespace: str, key: str) -> tuple[tuple[Any, ...] | None, float]:
        """Inside a write transaction: the live row of `key`, locked against other writers."""
        rows = self._b.write(self._locked_get_sql, (namespace, key))
        row = rows[0] if rows else None
        now = self.clock()
        if row is not None and row[2] is not None and row[2] <= now:
            row = None
        return row, now

    # ---- locks ----------------------------------------------------------------------

    def lock(
        self,
        name: str,
        holder: str,
        ttl: float | str,
        wait: float | str = 0.0,
        reason: str = "",
        stop: StopCheck = None,
    ) -> LockGrant:
        """Take the lease `name` for `ttl`, waiting up to `wait`; LockHeld if not obtained."""
        seconds = _seconds(wait, "wait")
        return self._locks.lock(name, holder, _ttl(name, ttl), seconds, reason, stop)

    def hold(
        self,
        name: str,
        holder: str,
        ttl: float | str,
        wait: float | str = 0.0,
        reason: str = "",
        stop: StopCheck = None,
    ) -> AbstractContextManager[LockGrant]:
        """`with state.hold(...) as grant:` the lease, renewed while the body runs, then released."""
        seconds = _seconds(wait, "wait")
        return self._locks.hold(name, holder, _ttl(name, ttl), seconds, reason, stop)

    def keep(self, grant: LockGrant, ttl: float | str, stop: StopCheck = None) -> LeaseKeeper:
        """Renew `grant` from a thread until the keeper's `release()` (or until `stop()` gives a
        reason: then the keeper releases it)."""
        return LeaseKeeper(self._locks, grant, _ttl(grant.name, ttl), stop)

    def try_lock(self, name: str, holder: str, ttl: float | str, reason: str = "") -> LockGrant | LockInfo:
        """One attempt: the grant, or the current holder's LockInfo."""
        return self._locks.try_lock(name, holder, _ttl(name, ttl), reason)

    def renew(self, name: str, token: int, ttl: float | str) -> LockGrant | None:
        """Extend a held lease; None if `token` no longer holds `name`."""
        return self._locks.renew(name, token, _ttl(name, ttl))

    def unlock(self, name: str, owner: str | int | None = None, force: bool = False) -> bool:
        """Release `name` held by `owner` (holder name or fencing token), or anyone's if force."""
        return self._locks.unlock(name, owner, force)

    def locks(self) -> list[LockInfo]:
        """Live locks sorted by name."""
        return self._locks.list()

    def lock_info(self, name: str) -> LockInfo | None:
        return self._locks.info(name)


def _ttl(key: str, ttl: float | str) -> float:
    seconds = _seconds(ttl, f"ttl of '{key}'")
    if seconds <= 0:
        raise UsageError(f"ttl of '{key}' must be positive, got {ttl!r}")
    return seconds


def _seconds(value: float | str, what: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
