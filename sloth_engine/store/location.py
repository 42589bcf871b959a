"""Where the store lives: resolve `--db` / `SLOTH_DB` / `$SLOTH_HOME` into a parsed location.

Accepted forms:

- `sqlite:///abs/path.db` (also `sqlite:////abs/path.db`), `sqlite://rel/path.db`, or a bare path;
- `postgresql://user:password@host:port/dbname` (or `postgres://`); the extra query parameter
  `schema=NAME` selects (and creates) a PostgreSQL schema; every other query parameter
  (`options`, `sslmode`, `connect_timeout`, ...) goes to libpq unchanged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sloth_engine.errors import StoreError
from sloth_engine.home import sloth_home

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class StoreLocation(NamedTuple):
    """A parsed store URL."""

    kind: Literal["sqlite", "postgresql"]
    path: str = ""
    """SQLite: the database file."""
    dsn: str = ""
    """PostgreSQL: the libpq URI without the Sloth-only parameters."""
    schema: str | None = None
    """PostgreSQL: the schema to use (search_path), created when missing."""
    display: str = ""
    """The URL with any password hidden, for messages."""


def _made_home() -> Path:
    """`sloth_home()`, created when missing (the default store lives there)."""
    home = sloth_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create SLOTH_HOME {home}: {exc.strerror or exc}") from None
    return home


def resolve_url(url: str | None = None) -> str:
    """The explicit URL, else `$SLOTH_DB`, else the SQLite file under `$SLOTH_HOME`."""
    if url:
        return url
    env = os.environ.get("SLOTH_DB")
    if env:
        return env
    return f"sqlite:///{_made_home() / 'sloth.db'}"


def parse_url(url: str) -> StoreLocation:
    """Parse a store URL; an unsupported or malformed one is a StoreError."""
    text = url.strip()
    if text.startswith("sqlite:"):
        return _sqlite(text)
    if text.startswith(("postgresql://", "postgres://")):
        return _postgresql(text)
    if "://" in text or not text:
        raise StoreError(
            f"unsupported database URL '{_hide_password(text)}': "
            "use sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME"
        )
    return _sqlite("sqlite://" + text)


def _sqlite(url: str) -> StoreLocation:
    rest = url[len("sqlite:") :]
    if rest.startswith("//"):
        rest = rest[2:]
    if rest.startswith("//"):
        rest = rest[1:]
    if not rest or rest.startswith(":memory:") or rest.startswith("?"):
        raise StoreError(f"unsupported database URL '{url}': the store needs a file (sqlite:///PATH)")
    path = Path(rest.split("?", 1)[0]).expanduser()
    return StoreLocation(kind="sqlite", path=str(path), display=f"sqlite://{path}")


def _postgresql(url: str) -> StoreLocation:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise StoreError(f"malformed database URL '{_hide_password(url)}': {exc}") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    schema = query.pop("schema", None) or None
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise StoreError(f"invalid PostgreSQL schema name '{schema}' in the database URL")
    query.setdefault("connect_timeout", "5")
    if schema is not None:
        search_path = f"-c search_path={schema}"
        query["options"] = f"{query['options']} {search_path}" if "options" in query else search_path
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query, quote_via=quote), ""))
    return StoreLocation(kind="postgresql", dsn=dsn, schema=schema, display=_hide_password(url))


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)
