"""Shared fixtures. Each group keeps its own namespaced fixtures; append, do not reorder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# ---- store: every store test runs on a SQLite file and on the real PostgreSQL server ----------

STORE_PG_URL = os.environ.get("SLOTH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL server the store tests use (CI starts it); unreachable means failed tests."""


def _store_pg_admin() -> Any:
    import psycopg2

    try:
        conn = psycopg2.connect(STORE_PG_URL, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {STORE_PG_URL} is unreachable ({exc}); .ci/run starts it", pytrace=False)
    conn.autocommit = True
    return conn


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file under tmp_path, or a new PostgreSQL schema
    (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sloth.db"
        return
    schema = f"sloth_test_{uuid.uuid4().hex[:12]}"
    admin = _store_pg_admin()
    try:
        yield f"{STORE_PG_URL}?schema={schema}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SET lock_timeout = '20s'")
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    """An open, migrated store on both backends."""
    from sloth_engine.store import open_store

    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
