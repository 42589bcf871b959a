"""Opening a store: URLs, errors a user can read, schema versions and migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.errors import SchemaTooNew, StoreError
from sloth_engine.store import open_store, schema
from sloth_engine.store.location import parse_url, resolve_url

TABLES = ("schema_version", "kv", "locks", "lock_fencing", "runs", "task_runs", "run_logs", "events")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////tmp/x/s.db", "/tmp/x/s.db"),
        ("sqlite:///tmp/x/s.db", "/tmp/x/s.db"),
        ("sqlite://rel/s.db", "rel/s.db"),
        ("/tmp/plain.db", "/tmp/plain.db"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    location = parse_url(url)
    assert (location.kind, location.path) == ("sqlite", path)


def test_postgresql_url_with_schema_and_password() -> None:
    location = parse_url("postgresql://me:secret@db.example:6543/sloth?schema=team_a&sslmode=disable")
    assert location.kind == "postgresql" and location.schema == "team_a"
    assert "search_path%3Dteam_a" in location.dsn or "search_path=team_a" in location.dsn
    assert "sslmode=disable" in location.dsn and "schema=" not in location.dsn
    assert "secret" not in location.display and "***" in location.display


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported database URL"),
        ("sqlite::memory:", "needs a file"),
        ("postgresql://u@h/db?schema=bad;name", "invalid PostgreSQL schema name"),
        ("postgresql://u@h:notaport/db", "malformed database URL"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        parse_url(url)


def test_url_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SLOTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SLOTH_DB", raising=False)
    assert resolve_url(None) == f"sqlite:///{tmp_path}/home/sloth.db"
    assert (tmp_path / "home").is_dir()
    monkeypatch.setenv("SLOTH_DB", "sqlite:////elsewhere.db")
    assert resolve_url(None) == "sqlite:////elsewhere.db"
    assert resolve_url("sqlite:////explicit.db") == "sqlite:////explicit.db"


def test_default_store_lives_in_sloth_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SLOTH_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("SLOTH_DB", raising=False)
    with open_store() as store:
        store.state.set("ns", "k", 1)
    assert (tmp_path / "h" / "sloth.db").is_file()


def test_unopenable_stores_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL.*127.0.0.1"):
        open_store("postgresql://postgres@127.0.0.1:1/test")
    with pytest.raises(StoreError, match="directory .* does not exist"):
        open_store(f"sqlite:///{tmp_path}/missing/dir/s.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StoreError, match="not a SQLite database"):
        open_store(f"sqlite:///{junk}")


def test_fresh_store_has_the_latest_schema(store: Any) -> None:
    assert store.schema_version() == schema.LATEST
    for table in TABLES:
        assert store.backend.table_exists(table), table


def test_schema_too_new_is_refused(store_url: str) -> None:
    with open_store(store_url) as store:
        store.backend.execute(
            store.backend.sql(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)"
            ),
            (schema.LATEST + 5, "from the future", 0.0),
        )
    with pytest.raises(SchemaTooNew) as refused:
        open_store(store_url)
    assert str(refused.value) == (
        f"database schema v{schema.LATEST + 5} is newer than this Sloth Runner (v{schema.LATEST}); "
        "upgrade sloth-runner"
    )


def test_a_failing_migration_changes_nothing(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(store_url):
        pass

    def broken(ctx: schema.MigrationContext) -> None:
        ctx.execute("CREATE TABLE half_done (id INTEGER)")
        ctx.execute("INSERT INTO no_such_table VALUES (1)")

    latest = schema.LATEST + 1
    monkeypatch.setattr(
        schema, "MIGRATIONS", (*schema.MIGRATIONS, schema.Migration(latest, "broken", broken))
    )
    monkeypatch.setattr(schema, "LATEST", latest)
    with pytest.raises(StoreError):
        open_store(store_url)
    monkeypatch.undo()
    with open_store(store_url) as store:
        assert store.schema_version() == schema.LATEST
        assert not store.backend.table_exists("half_done")


def test_reopening_a_current_store_is_cheap(store_url: str) -> None:
    with open_store(store_url):
        pass
    code = (
        "import sys, time; t = time.perf_counter();"
        "from sloth_engine.store import open_store;"
        f"s = open_store({store_url!r}); s.state.get('ns', 'k'); s.close();"
        "print('peewee' in sys.modules, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    imported, _ = out.stdout.split()
    assert imported == "False"  # one version query, no ORM, no migration


def test_closed_store_refuses_work(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.state.get("ns", "k")
