"""Lock waiters on a SQLite file stand in one line across processes: woken by a release, served
in arrival order, a dead waiter skipped; fencing tokens still rise in grant order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sloth_engine.store import open_store
from sloth_engine.store.lock_line import Line, lines_folder

WAIT_S = 60.0
CHILD = """
import json, sys
from sloth_engine.store import open_store
url, name, holder = sys.argv[1:4]
with open_store(url) as store:
    grant = store.state.lock(name, holder, ttl=60, wait=120)
    print(json.dumps({"holder": holder, "token": grant.token}), flush=True)
    store.state.unlock(name, grant.token)
"""


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[tuple[str, Line]]:
    db = tmp_path / "locks.db"
    url = f"sqlite:///{db}"
    with open_store(url):
        pass
    yield url, Line(lines_folder(str(db)), "locks")


def _child(url: str, name: str, holder: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, name, holder], stdout=subprocess.PIPE, text=True
    )


def test_processes_are_served_in_arrival_order_and_a_releaser_queues_behind(
    sqlite: tuple[str, Line],
) -> None:
    url, line = sqlite
    with open_store(url) as store:
        first = store.state.lock("deploy", "parent", ttl=60, wait=0)
        children = []
        for index, holder in enumerate(("a", "b", "c"), start=1):
            children.append(_child(url, "deploy", holder))
            _until(lambda n=index: line.waiters("deploy") == n, f"{holder} in the line")
        store.state.unlock("deploy", first.token)
        again = store.state.lock("deploy", "parent", ttl=60, wait=WAIT_S)  # behind a, b and c
        store.state.unlock("deploy", again.token)
    served = []
    for child in children:
        out, _ = child.communicate(timeout=WAIT_S)
        assert child.returncode == 0
        served.append(json.loads(out))
    order = sorted(served, key=lambda s: s["token"])
    assert [s["holder"] for s in order] == ["a", "b", "c"]
    assert first.token < order[0]["token"] and order[-1]["token"] < again.token
    assert line.waiters("deploy") == 0


def test_a_release_wakes_a_waiter_of_another_process(sqlite: tuple[str, Line]) -> None:
    url, line = sqlite
    woken = """
import sys
from sloth_engine.store.lock_line import Line
place = Line(sys.argv[1], "locks").join("job")
print("in line", flush=True)
print("woken" if place.wait(120) else "timed out", flush=True)
place.leave()
"""
    child = subprocess.Popen([sys.executable, "-c", woken, line.base], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "in line"
    line.wake("job")
    out, _ = child.communicate(timeout=WAIT_S)
    assert out.strip() == "woken"
    assert line.waiters("job") == 0


def test_a_dead_waiter_is_skipped(sqlite: tuple[str, Line]) -> None:
    url, line = sqlite
    with open_store(url) as store:
        first = store.state.lock("db", "parent", ttl=60, wait=0)
        doomed = _child(url, "db", "doomed")
        _until(lambda: line.waiters("db") == 1, "the doomed waiter in the line")
        later = _child(url, "db", "later")
        _until(lambda: line.waiters("db") == 2, "the later waiter in the line")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=WAIT_S)
        store.state.unlock("db", first.token)
        out, _ = later.communicate(timeout=WAIT_S)
    assert later.returncode == 0 and json.loads(out)["holder"] == "later"
    assert line.waiters("db") == 0
    folder = line._dir("db")  # the dead waiter's link was removed, then the empty folder
    assert not os.path.exists(folder) or os.listdir(folder) == []


def test_threads_take_turns_in_arrival_order(sqlite: tuple[str, Line]) -> None:
    url, line = sqlite
    with open_store(url) as store:
        first = store.state.lock("one", "main", ttl=60, wait=0)
        got: list[tuple[str, int]] = []

        def waiter(holder: str) -> None:
            grant = store.state.lock("one", holder, ttl=60, wait=WAIT_S)
            got.append((holder, grant.token))
            store.state.unlock("one", grant.token)

        threads = []
        for index, holder in enumerate(("t1", "t2", "t3", "t4"), start=1):
            thread = threading.Thread(target=waiter, args=(holder,))
            thread.start()
            threads.append(thread)
            _until(lambda n=index: store.state._locks.waiting_here("one") == n, f"{holder} waiting")
        assert line.waiters("one") == 1  # only the first thread of a process stands in the line
        store.state.unlock("one", first.token)
        for thread in threads:
            thread.join(timeout=WAIT_S)
    assert [h for h, _ in got] == ["t1", "t2", "t3", "t4"]
    tokens = [t for _, t in got]
    assert tokens == sorted(tokens) and tokens[0] > first.token


def test_a_waiter_that_gives_up_leaves_the_line_and_the_next_is_served(sqlite: tuple[str, Line]) -> None:
    url, line = sqlite
    with open_store(url) as store:
        held = store.state.lock("slow", "main", ttl=60, wait=0)
        result: dict[str, object] = {}

        def patient() -> None:
            grant = store.state.lock("slow", "patient", ttl=60, wait=WAIT_S)
            result["token"] = grant.token
            store.state.unlock("slow", grant.token)

        impatient_error: list[BaseException] = []

        def impatient() -> None:
            try:
                store.state.lock("slow", "impatient", ttl=60, wait=0.3)
            except BaseException as exc:  # LockHeld expected
                impatient_error.append(exc)

        first_in_line = threading.Thread(target=impatient)
        first_in_line.start()
        _until(lambda: line.waiters("slow") == 1, "the impatient waiter in the line")
        second = threading.Thread(target=patient)
        second.start()
        _until(lambda: store.state._locks.waiting_here("slow") == 2, "the patient waiter queued")
        first_in_line.join(timeout=WAIT_S)
        assert type(impatient_error[0]).__name__ == "LockHeld"
        store.state.unlock("slow", held.token)
        second.join(timeout=WAIT_S)
    assert int(str(result["token"])) > held.token


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new PostgreSQL schema on the test server, dropped afterwards."""
    from conftest import STORE_PG_URL, _store_pg_admin

    schema = f"sloth_test_{uuid.uuid4().hex[:12]}"
    admin = _store_pg_admin()
    try:
        yield f"{STORE_PG_URL}?schema={schema}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.mark.postgres
def test_on_postgresql_processes_are_served_in_arrival_order(pg_url: str) -> None:
    import psycopg2

    from sloth_engine.store.lock_line_pg import PgLine

    store_url = pg_url
    with open_store(store_url) as store:
        line = PgLine(store.backend, "locks")
        key = line.key("deploy")
        high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
        watcher = psycopg2.connect(store_url.split("?")[0])
        watcher.autocommit = True

        def in_line() -> int:
            with watcher.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                    "AND objid = %s AND objsubid = 1",
                    (high, low),
                )
                return int(cur.fetchone()[0])

        try:
            first = store.state.lock("deploy", "parent", ttl=60, wait=0)
            children = []
            for index, holder in enumerate(("a", "b", "c"), start=1):
                children.append(_child(store_url, "deploy", holder))
                _until(lambda n=index: in_line() == n, f"{holder} in the line")
            store.state.unlock("deploy", first.token)
            again = store.state.lock("deploy", "parent", ttl=60, wait=WAIT_S)  # behind a, b, c
            store.state.unlock("deploy", again.token)
        finally:
            watcher.close()
    served = []
    for child in children:
        out, _ = child.communicate(timeout=WAIT_S)
        assert child.returncode == 0
        served.append(json.loads(out))
    order = sorted(served, key=lambda s: s["token"])
    assert [s["holder"] for s in order] == ["a", "b", "c"]
    assert first.token < order[0]["token"] and order[-1]["token"] < again.token
