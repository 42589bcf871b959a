"""Leases on both backends: grants, fencing tokens, expiry, renewal, release, waiting."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sloth_engine.errors import LockHeld, TaskCancelled, UsageError
from sloth_engine.store import LockGrant, LockInfo


def test_grant_and_held(store: Any) -> None:
    grant = store.state.lock("deploy", "alice", ttl="30s", reason="release 1.2")
    assert isinstance(grant, LockGrant)
    assert (grant.name, grant.holder) == ("deploy", "alice")
    assert grant.expires_at > time.time() + 25
    with pytest.raises(LockHeld) as held:
        store.state.lock("deploy", "bob", ttl=30)
    assert (held.value.name, held.value.holder, held.value.reason) == ("deploy", "alice", "release 1.2")
    assert held.value.since is not None and abs(held.value.since - time.time()) < 5
    assert "held by alice" in str(held.value)


def test_locks_are_not_reentrant(store: Any) -> None:
    store.state.lock("x", "alice", ttl=30)
    with pytest.raises(LockHeld):
        store.state.lock("x", "alice", ttl=30)


def test_fencing_tokens_increase_across_locks(store: Any) -> None:
    tokens = []
    for round_ in range(3):
        for name in ("a", "b", "c"):
            grant = store.state.lock(name, f"h{round_}", ttl=30)
            tokens.append(grant.token)
            assert store.state.unlock(name, grant.token)
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)


def test_expired_lock_is_taken_by_another_holder(store: Any) -> None:
    old = store.state.lock("job", "dead-holder", ttl=0.3)
    with pytest.raises(LockHeld):
        store.state.lock("job", "new-holder", ttl=30)
    time.sleep(0.35)
    new = store.state.lock("job", "new-holder", ttl=30)
    assert new.holder == "new-holder" and new.token > old.token
    assert store.state.renew("job", old.token, 30) is None  # the stale holder cannot renew
    assert store.state.unlock("job", old.token) is False  # nor release the new grant
    assert store.state.lock_info("job").holder == "new-holder"


def test_waiting_for_an_expiring_lease(store: Any) -> None:
    store.state.lock("job", "dead-holder", ttl=0.3)
    started = time.monotonic()
    grant = store.state.lock("job", "patient", ttl=30, wait="5s")
    assert grant.holder == "patient"
    assert time.monotonic() - started < 1.5


def test_wait_runs_out(store: Any) -> None:
    store.state.lock("job", "alice", ttl=30)
    started = time.monotonic()
    with pytest.raises(LockHeld):
        store.state.lock("job", "bob", ttl=30, wait=0.3)
    assert 0.25 < time.monotonic() - started < 2


def test_release_frees_a_waiter_at_once(store: Any) -> None:
    holder = store.state.lock("gate", "first", ttl=30)
    got: dict[str, float] = {}

    def wait_for_it() -> None:
        store.state.lock("gate", "second", ttl=30, wait=10)
        got["at"] = time.monotonic()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    time.sleep(0.4)  # the waiter is deep in its backoff by now
    released = time.monotonic()
    assert store.state.unlock("gate", holder.token)
    waiter.join(5)
    assert "at" in got
    assert got["at"] - released < 0.15
    assert store.state.lock_info("gate").holder == "second"


def test_renew_extends_the_lease(store: Any) -> None:
    grant = store.state.lock("r", "alice", ttl=0.4)
    renewed = store.state.renew("r", grant.token, "30s")
    assert renewed is not None and renewed.token == grant.token and renewed.expires_at > time.time() + 25
    time.sleep(0.5)
    with pytest.raises(LockHeld):
        store.state.lock("r", "bob", ttl=1)


def test_unlock_by_holder_token_or_force(store: Any) -> None:
    grant = store.state.lock("u", "alice", ttl=30)
    assert store.state.unlock("u", "bob") is False
    assert store.state.unlock("u", grant.token + 1000) is False
    assert store.state.unlock("u", "alice") is True
    assert store.state.unlock("u", "alice") is False
    store.state.lock("u", "carol", ttl=30)
    assert store.state.unlock("u", force=True) is True
    assert store.state.locks() == []
    with pytest.raises(UsageError, match="holder or the token"):
        store.state.unlock("u")


def test_locks_lists_live_leases(store: Any) -> None:
    store.state.lock("b", "bob", ttl=30, reason="why")
    store.state.lock("a", "alice", ttl=30)
    store.state.lock("gone", "ghost", ttl=0.2)
    time.sleep(0.25)
    listed = store.state.locks()
    assert [(i.name, i.holder, i.reason) for i in listed] == [("a", "alice", ""), ("b", "bob", "why")]
    assert all(isinstance(i, LockInfo) and i.acquired_at < i.expires_at for i in listed)
    assert store.state.lock_info("gone") is None


def test_hold_renews_while_the_body_runs(store: Any) -> None:
    with store.state.hold("long", "worker", ttl=0.3) as grant:
        time.sleep(0.8)  # well past the ttl: the keeper renewed it
        with pytest.raises(LockHeld):
            store.state.lock("long", "intruder", ttl=1)
    assert store.state.lock_info("long") is None
    assert store.state.lock("long", "next", ttl=1).token > grant.token


def test_hold_releases_when_the_body_raises(store: Any) -> None:
    with pytest.raises(RuntimeError), store.state.hold("h", "worker", ttl=30):
        raise RuntimeError("boom")
    assert store.state.lock_info("h") is None


def test_stop_interrupts_a_wait(store: Any) -> None:
    store.state.lock("s", "alice", ttl=30)
    deadline = time.monotonic() + 0.2

    def stop() -> str | None:
        return "task timed out" if time.monotonic() > deadline else None

    with pytest.raises(TaskCancelled, match="timed out"):
        store.state.lock("s", "bob", ttl=30, wait=30, stop=stop)
