"""State keys on both backends: types, TTLs, increments, compare-and-swap, bad values."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sloth_engine.errors import StateValueError, UsageError
from sloth_engine.store import MAX_VALUE_BYTES

ROUND_TRIP = [
    "plain",
    "",
    'ünïcødé ☃ and "quotes" and \\ and \x00 nul',
    0,
    -7,
    2**62,
    1.5,
    1.0,
    -0.25,
    True,
    False,
    [],
    {},
    [1, "two", 3.0, False, None],
    {"a": {"b": {"c": [1, {"d": "deep"}]}}, "n": 1},
    {1: "one", 3: "three"},
    {1: "x", "name": "mixed", 2.5: True},
    [[1, 2], [3, [4, [5]]]],
]


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(store: Any) -> FakeClock:
    fake = FakeClock()
    store.state.clock = fake
    return fake


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_values_keep_their_type(store: Any, value: Any) -> None:
    store.state.set("ns", "k", value)
    back = store.state.get("ns", "k")
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, dict):
        assert [type(k) for k in back] == [type(k) for k in value]


def test_float_that_looks_integral_stays_float(store: Any) -> None:
    store.state.set("ns", "f", 3.0)
    assert math.isclose(store.state.get("ns", "f"), 3.0)
    assert isinstance(store.state.get("ns", "f"), float)
    assert store.state.entries("ns")[0].value_type == "number"


def test_missing_key_reads_default(store: Any) -> None:
    assert store.state.get("ns", "nope") is None
    assert store.state.get("ns", "nope", "fallback") == "fallback"
    assert not store.state.exists("ns", "nope")
    assert store.state.delete("ns", "nope") is False


def test_set_overwrites_and_counts_versions(store: Any) -> None:
    store.state.set("ns", "k", 1, owner="run1:a")
    store.state.set("ns", "k", "two", owner="run2:b")
    (entry,) = store.state.entries("ns")
    assert (entry.value, entry.value_type, entry.version, entry.owner) == ("two", "string", 2, "run2:b")


def test_set_none_deletes(store: Any) -> None:
    store.state.set("ns", "k", 1)
    store.state.set("ns", "k", None)
    assert not store.state.exists("ns", "k")


def test_namespaces_are_separate(store: Any) -> None:
    store.state.set("a", "k", 1)
    store.state.set("b", "k", 2)
    assert (store.state.get("a", "k"), store.state.get("b", "k")) == (1, 2)
    assert store.state.delete("a", "k")
    assert store.state.get("b", "k") == 2
    assert store.state.namespaces() == ["b"]


def test_keys_by_prefix_sorted(store: Any) -> None:
    for key in ["user:2", "user:1", "user_x", "other", "user%", "Úser"]:
        store.state.set("ns", key, 1)
    assert store.state.keys("ns", "user:") == ["user:1", "user:2"]
    assert store.state.keys("ns", "user%") == ["user%"]
    assert store.state.keys("ns", "user_") == ["user_x"]
    assert store.state.keys("ns") == sorted(["user:2", "user:1", "user_x", "other", "user%", "Úser"])


def test_ttl_expiry_reads_as_absent(store: Any, clock: FakeClock) -> None:
    store.state.set("ns", "short", "v", ttl="30s")
    store.state.set_with_ttl("ns", "long", "w", ttl=120)
    store.state.set("ns", "forever", "x")
    clock.now += 29
    assert store.state.get("ns", "short") == "v"
    clock.now += 2
    assert store.state.get("ns", "short") is None
    assert not store.state.exists("ns", "short")
    assert store.state.keys("ns") == ["forever", "long"]
    assert [e.key for e in store.state.entries("ns")] == ["forever", "long"]
    assert store.state.delete("ns", "short") is False
    assert store.state.purge_expired() == 0
    clock.now += 200
    assert store.state.purge_expired() == 1
    assert store.state.keys("ns") == ["forever"]


def test_rewrite_without_ttl_clears_expiry(store: Any, clock: FakeClock) -> None:
    store.state.set("ns", "k", 1, ttl=5)
    store.state.set("ns", "k", 2)
    clock.now += 10
    assert store.state.get("ns", "k") == 2


def test_bad_ttl_is_a_usage_error(store: Any) -> None:
    with pytest.raises(UsageError, match="ttl of 'k'"):
        store.state.set("ns", "k", 1, ttl="soon")
    with pytest.raises(UsageError, match="positive"):
        store.state.set("ns", "k", 1, ttl=0)
    assert not store.state.exists("ns", "k")


def test_increment(store: Any, clock: FakeClock) -> None:
    assert store.state.increment("ns", "n") == 1
    assert store.state.increment("ns", "n", 41) == 42
    assert store.state.increment("ns", "n", -2) == 40
    assert store.state.increment("ns", "f", 0.5) == 0.5
    assert store.state.increment("ns", "n", 0.5) == 40.5
    assert store.state.get("ns", "n") == 40.5
    store.state.set("ns", "big", 2**62)  # beyond the one-statement fast path
    assert store.state.increment("ns", "big") == 2**62 + 1
    store.state.set("ns", "t", 10, ttl=5)
    assert store.state.increment("ns", "t") == 11
    clock.now += 6
    assert store.state.increment("ns", "t") == 1


def test_increment_refuses_non_numbers(store: Any) -> None:
    store.state.set("ns", "s", "text")
    store.state.set("ns", "b", True)
    with pytest.raises(StateValueError, match="'s'"):
        store.state.increment("ns", "s")
    with pytest.raises(StateValueError, match="'b'"):
        store.state.increment("ns", "b")
    with pytest.raises(StateValueError, match="needs a number"):
        store.state.increment("ns", "n", "1")
    assert store.state.get("ns", "s") == "text"
    assert not store.state.exists("ns", "n")


def test_compare_and_swap(store: Any, clock: FakeClock) -> None:
    cas = store.state.compare_and_swap
    assert cas("ns", "k", None, "first") is True
    assert cas("ns", "k", None, "again") is False
    assert cas("ns", "k", "wrong", "x") is False
    assert cas("ns", "k", "first", {"v": [1, 2]}) is True
    assert cas("ns", "k", {"v": [1, 2]}, 7) is True
    assert cas("ns", "k", 7.0, 8) is True  # numbers compare as in Lua: 7 == 7.0
    assert cas("ns", "k", True, 9) is False  # but true is not 1
    assert cas("ns", "k", 8, None) is True  # None as the new value deletes
    assert not store.state.exists("ns", "k")
    store.state.set("ns", "e", "old", ttl=1)
    clock.now += 2
    assert cas("ns", "e", None, "fresh") is True  # expired counts as absent
    assert store.state.get("ns", "e") == "fresh"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (lambda: 1, "function"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        ({"nested": [object()]}, "object"),
        ({(1, 2): "tuple key"}, "table key"),
        ("x" * (MAX_VALUE_BYTES + 1), "byte limit"),
        (["é" * (MAX_VALUE_BYTES // 2)], "byte limit"),
    ],
    ids=["function", "set", "bytes", "object", "tuple-key", "oversize", "oversize-utf8"],
)
def test_unstorable_values_name_the_key_and_write_nothing(store: Any, value: Any, reason: str) -> None:
    store.state.set("ns", "keep", "before")
    with pytest.raises(StateValueError, match=f"state key 'keep'.*{reason}"):
        store.state.set("ns", "keep", value)
    with pytest.raises(StateValueError, match="'fresh'"):
        store.state.set("ns", "fresh", value)
    with pytest.raises(StateValueError, match="'keep'"):
        store.state.compare_and_swap("ns", "keep", "before", value)
    assert store.state.get("ns", "keep") == "before"
    assert not store.state.exists("ns", "fresh")


def test_cyclic_value_is_refused(store: Any) -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    with pytest.raises(StateValueError, match="'loop'.*cyclic"):
        store.state.set("ns", "loop", cyclic)
    assert not store.state.exists("ns", "loop")


def test_value_at_the_limit_is_stored(store: Any) -> None:
    value = "x" * (MAX_VALUE_BYTES - 2)  # plus the two JSON quotes
    store.state.set("ns", "big", value)
    assert store.state.get("ns", "big") == value
