"""The pieces behind agents' store calls, on both backends: the master's batches (one commit,
a failing call undoing only itself), errors raised again as the same class, nested
transactions as savepoints, and bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sloth_daemon.gen.sloth.v1 import store_pb2 as spb
from sloth_daemon.master.dispatcher import on_loopback
from sloth_daemon.master.store_calls import StoreCalls
from sloth_daemon.remote_port import remote_port
from sloth_daemon.store_ops import error_from_wire
from sloth_engine import errors
from sloth_engine.bundle import MAX_BUNDLE_FILES, check, collect
from sloth_engine.store.backend import Rollback


def _direct(calls: StoreCalls) -> Any:
    """A remote port whose calls go through the master's batch code in this process."""
    ids = iter(range(1, 10**9))

    def call(method: str, args: dict[str, Any]) -> Any:
        op = spb.StoreOp(id=next(ids), method=method, args_json=json.dumps(args).encode())
        result = calls.run_batch([op]).results[0]
        if result.error_kind:
            raise error_from_wire(result.error_kind, result.error, result.error_json)
        return json.loads(result.result_json)

    return remote_port(call)


def _op(i: int, method: str, **args: Any) -> spb.StoreOp:
    return spb.StoreOp(id=i, method=method, args_json=json.dumps(args).encode())


def test_a_batch_commits_together_and_a_failing_call_undoes_only_itself(store: Any) -> None:
    calls = StoreCalls(store)
    store.state.set("ns", "old", 1)
    ops = [
        _op(1, "state.set", ns="ns", key="a", value=["1", "integer"]),
        _op(2, "state.cas", ns="ns", key="old", old=["1", "integer"], new=["2", "integer"]),
        _op(3, "state.increment", ns="ns", key="a", delta="x"),  # not a number: refused
        _op(4, "state.cas", ns="ns", key="old", old=["1", "integer"], new=["3", "integer"]),  # lost
        _op(5, "no.such", ns="ns"),
        _op(6, "state.increment", ns="ns", key="fresh", delta=2),
        _op(7, "state.get", ns="ns", key="a"),
    ]
    results = {r.id: r for r in calls.run_batch(ops).results}
    assert [json.loads(results[i].result_json) for i in (1, 2, 4, 6, 7)] == [
        None,
        True,
        False,
        2,
        ["1", "integer"],
    ]
    assert results[3].error_kind == "StateValueError" and "state key 'a'" in results[3].error
    assert results[5].error_kind == "UsageError" and "unknown store call" in results[5].error
    assert store.state.get("ns", "old") == 2 and store.state.get("ns", "fresh") == 2
    calls.close()


def test_remote_state_answers_and_errors_like_the_store(store: Any) -> None:
    port = _direct(StoreCalls(store))
    st = port.state
    st.set("ns", "t", {1: "a", 5: "b"})
    assert st.get("ns", "t") == store.state.get("ns", "t") == {1: "a", 5: "b"}
    st.set("ns", "f", 1.0)
    assert type(st.get("ns", "f")) is float and st.get("ns", "missing", "dflt") == "dflt"
    grant = st.lock("L", "me", 30)
    with pytest.raises(errors.LockHeld) as held:
        st.lock("L", "you", 30, wait=0.05)
    assert str(held.value) == "lock 'L' is held by me" and held.value.holder == "me"
    with pytest.raises(errors.UsageError, match="ttl of 'L2'"):
        st.lock("L2", "me", "soon")
    assert st.renew("L", grant.token, 60) is not None and st.unlock("L", grant.token)
    with pytest.raises(errors.StateValueError) as bad:
        st.increment("ns", "t", 1)
    assert str(bad.value) == "state key 't': cannot increment a table value"


def test_nested_transactions_are_savepoints(store: Any) -> None:
    with store.transaction():
        store.state.set("ns", "kept", 1)
        with store.transaction():
            store.state.set("ns", "undone", 1)
            raise Rollback
    assert store.state.get("ns", "kept") == 1 and store.state.get("ns", "undone") is None


def test_errors_keep_their_class_and_message_across_the_wire() -> None:
    from sloth_daemon.store_ops import error_to_wire

    for exc in (
        errors.LockHeld("L", "run:task", 12.5, "deploy"),
        errors.StateValueError("k", "too big", "ns"),
        errors.UsageError("bad ttl"),
        errors.StackLocked("web", "alice", None, "maintenance"),
    ):
        again = error_from_wire(*error_to_wire(exc))
        assert type(again) is type(exc) and str(again) == str(exc)
    assert error_to_wire(RuntimeError("boom"))[0] == "internal"


def test_loopback_peers() -> None:
    assert on_loopback("ipv4:127.0.0.1:5000") and on_loopback("ipv6:[::1]:5000") and on_loopback("unix:/x")
    assert not on_loopback("ipv4:10.1.2.3:5000") and not on_loopback("")


def test_bundles_follow_literal_imports_inside_the_folder_only(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.lua").write_text('return import("b.lua")')
    (tmp_path / "b.lua").write_text("return 1")
    (tmp_path.parent / "outside.lua").write_text("return 2")
    source = 'local a = require("lib.a")\nlocal o = import("../outside.lua")\nlocal g = require("git")\n'
    assert collect(tmp_path / "w.sloth", source) == {
        "lib/a.lua": 'return import("b.lua")',
        "b.lua": "return 1",
    }
    with pytest.raises(errors.DslError, match="not inside"):
        check({"../x.lua": ""}, "", "w.sloth")
    with pytest.raises(errors.DslError, match="too large"):
        check({f"f{i}.lua": "" for i in range(MAX_BUNDLE_FILES + 1)}, "", "w.sloth")
