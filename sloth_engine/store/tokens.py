"""API tokens of a master: created once, stored hashed, listed, revoked, verified.

A token reads `slt_<id>_<secret>`: the id finds the row, the secret is never stored; the row
keeps a random salt and HMAC-SHA256(salt, secret), compared in constant time.

An agent's own token (role agent, named `agent/NAME`, column `agent` = NAME) is issued by the
master at the agent's first registration with a join token: from then on the name is bound to
that token (revoked or not) until the row is deleted (`token delete agent/NAME`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sloth_engine.errors import NotFound, UsageError
from sloth_engine.store.backend import Backend

TokenRole = Literal["viewer", "operator", "admin", "agent"]
ROLES: tuple[TokenRole, ...] = ("viewer", "operator", "admin", "agent")
PREFIX = "slt"
AGENT_PREFIX = "agent/"
"""Name of an agent's own token: `agent/<agent name>`."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

CREATE_TABLE = """CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    token_id TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    salt TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    revoked_at DOUBLE PRECISION
)"""
ADD_AGENT_COLUMN = (
    "ALTER TABLE api_tokens ADD COLUMN agent TEXT",
    "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_agent ON api_tokens (agent)",
)
"""Migration 8: an agent's own token names the agent it is bound to (one token per agent)."""


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: TokenRole
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    agent: str | None = None
    """The agent name this token is bound to (an agent's own token), else None."""


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


class TokenStore:
    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self._b = backend
        self.clock = clock

    def create(self, name: str, role: str, expires_in: float | None = None) -> str:
        """A new token for `name` (printed once by the caller, never stored in clear)."""
        if not _NAME.match(name):
            raise UsageError(f"token name '{name}': letters, digits, _ . @ - (up to 64)")
        if role not in ROLES:
            raise UsageError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
        return self._insert(name, role, expires_in, None)

    def issue_agent(self, agent: str) -> str:
        """The agent's own token, binding `agent` to it; UsageError when the name is bound."""
        if not agent or len(agent) > 255:
            raise UsageError("an agent name of 1 to 255 characters is needed")
        return self._insert(AGENT_PREFIX + agent, "agent", None, agent)

    def _insert(self, name: str, role: str, expires_in: float | None, agent: str | None) -> str:
        token_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
        now = self.clock()
        with self._b.transaction():
            if self._b.query_one(self._b.sql("SELECT 1 FROM api_tokens WHERE name = ?"), (name,)):
                raise UsageError(f"a token named '{name}' exists (revoke it, or pick another name)")
            self._b.execute(
                self._b.sql(
                    "INSERT INTO api_tokens (name, token_id, role, salt, digest, created_at, expires_at,"
                    " agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    name,
                    token_id,
                    role,
                    salt,
                    _digest(salt, secret),
                    now,
                    now + expires_in if expires_in else None,
                    agent,
                ),
            )
        return f"{PREFIX}_{token_id}_{secret}"

    def list(self) -> list[TokenInfo]:
        rows = self._b.query_all(
            "SELECT name, role, created_at, expires_at, revoked_at, agent FROM api_tokens ORDER BY created_at"
        )
        return [TokenInfo(*r) for r in rows]

    def bound_to(self, agent: str) -> str | None:
        """The name of the token `agent` is bound to (revoked or not), else None."""
        row = self._b.query_one(self._b.sql("SELECT name FROM api_tokens WHERE agent = ?"), (agent,))
        return row[0] if row else None

    def valid_names(self) -> set[str]:
        """Names of the tokens valid now: live streams are re-checked against it."""
        now = self.clock()
        rows = self._b.query_all("SELECT name, expires_at FROM api_tokens WHERE revoked_at IS NULL")
        return {r[0] for r in rows if r[1] is None or r[1] > now}

    def delete(self, name: str) -> None:
        """Forget a token (for an agent's own token: the name may be joined again)."""
        with self._b.transaction():
            row = self._b.query_one(self._b.sql("SELECT 1 FROM api_tokens WHERE name = ?"), (name,))
            if row is None:
                raise NotFound(f"no token named '{name}'")
            self._b.execute(self._b.sql("DELETE FROM api_tokens WHERE name = ?"), (name,))

    def revoke(self, name: str) -> None:
        with self._b.transaction():
            row = self._b.query_one(self._b.sql("SELECT revoked_at FROM api_tokens WHERE name = ?"), (name,))
            if row is None:
                raise NotFound(f"no token named '{name}'")
            if row[0] is None:
                self._b.execute(
                    self._b.sql("UPDATE api_tokens SET revoked_at = ? WHERE name = ?"), (self.clock(), name)
                )

    def verify(self, token: str) -> TokenInfo | None:
        """The token's row when `token` is valid now (not revoked, not expired), else None."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not token_id or not secret or len(token) > 200:
            return None
        row = self._b.query_one(
            self._b.sql(
                "SELECT name, role, salt, digest, created_at, expires_at, revoked_at, agent"
                " FROM api_tokens WHERE token_id = ?"
            ),
            (token_id,),
        )
        if row is None or not hmac.compare_digest(_digest(row[2], secret), row[3]):
            return None
        info = TokenInfo(row[0], row[1], row[4], row[5], row[6], row[7])
        if info.revoked_at is not None or (info.expires_at is not None and info.expires_at <= self.clock()):
            return None
        return info
