"""The Lua `state` module on both backends: in a bare sandbox, and inside real workflow runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox
from sloth_engine.modules import ModuleEnv, state_mod
from sloth_engine.run import RunRequest, WorkflowRun, load
from sloth_engine.store import MAX_VALUE_BYTES

pytestmark = pytest.mark.timeout(60)


class Lua:
    def __init__(self, store: Any, namespace: str = "prod") -> None:
        self.sandbox = Sandbox()
        self.sandbox.scope.run_id, self.sandbox.scope.task_name = "run1", "task1"
        state_mod.install(self.sandbox, ModuleEnv(store=store, namespace=namespace))

    def run(self, body: str, deadline: float | None = None) -> Any:
        fn = self.sandbox.load(body, "=wf.sloth")
        return self.sandbox.call(fn, deadline=deadline)


@pytest.fixture
def lua(store: Any) -> Lua:
    return Lua(store)


def test_values_keep_their_lua_type(lua: Lua, store: Any) -> None:
    got = lua.run(
        """
        state.set("n", 42); state.set("f", 2.5); state.set("one", 1.0); state.set("s", "txt")
        state.set("b", false)
        state.set("t", { list = { 1, 2, { deep = true } }, map = { a = "x" }, [7] = "seven" })
        local t = state.get("t")
        return math.type(state.get("n")), math.type(state.get("f")), math.type(state.get("one")),
               state.get("s"), state.get("b"), t.list[3].deep, t.map.a, t[7], #t.list
        """
    )
    assert got == ("integer", "float", "float", "txt", False, True, "x", "seven", 3)
    assert store.state.get("prod", "t") == {"list": [1, 2, {"deep": True}], "map": {"a": "x"}, 7: "seven"}


def test_default_namespace_and_scoped_namespaces(lua: Lua, store: Any) -> None:
    lua.run('state.set("k", "prod value"); state.namespace("team-a").set("k", "team value")')
    assert store.state.get("prod", "k") == "prod value"
    assert store.state.get("team-a", "k") == "team value"
    assert lua.run('local a = state.namespace("team-a"); return a.get("k"), a.namespace("b").get("k")') == (
        "team value",
        None,
    )


def test_get_exists_delete_keys(lua: Lua) -> None:
    got = lua.run(
        """
        for _, k in ipairs({ "user:1", "user:2", "job:1" }) do state.set(k, true) end
        local deleted = state.delete("job:1")
        return state.get("nope", "fallback"), state.exists("user:1"), state.exists("job:1"), deleted,
               table.concat(state.keys("user:"), ","), table.concat(state.keys("*:2"), ","),
               #state.keys()
        """
    )
    assert got == ("fallback", True, False, True, "user:1,user:2", "user:2", 2)


def test_increment_cas_and_ttl(lua: Lua) -> None:
    got = lua.run(
        """
        local a, b = state.increment("c"), state.increment("c", 10)
        local first = state.compare_and_swap("lock-ish", nil, { owner = "me" })
        local again = state.compare_and_swap("lock-ish", nil, { owner = "you" })
        local swap = state.compare_and_swap("lock-ish", { owner = "me" }, "released")
        state.set_with_ttl("temp", "soon gone", 0.2)
        state.set("temp2", "also", "200ms")
        return a, b, first, again, swap, state.get("lock-ish"), state.get("temp"), state.get("temp2")
        """
    )
    assert got == (1, 11, True, False, True, "released", "soon gone", "also")
    time.sleep(0.3)
    assert lua.run('return state.get("temp"), state.exists("temp2")') == (None, False)


@pytest.mark.parametrize(
    ("setup", "expression", "reason"),
    [
        ("", 'state.set("bad", { f = function() end })', "function"),
        ("local t = {}; t.me = t", 'state.set("bad", t)', "cyclic"),
        ("", f'state.set("bad", string.rep("x", {MAX_VALUE_BYTES + 10}))', "byte limit"),
        ("", 'state.set_with_ttl("bad", print, 10)', "function"),
        ("local t = {}; t[1] = t", 'state.compare_and_swap("bad", "before", t)', "cyclic"),
    ],
    ids=["function", "cyclic", "oversize", "ttl-function", "cas-cyclic"],
)
def test_bad_values_are_lua_errors_naming_the_key(
    lua: Lua, store: Any, setup: str, expression: str, reason: str
) -> None:
    store.state.set("prod", "bad", "before")
    with pytest.raises(LuaRuntimeError) as failed:
        lua.run(f"{setup}\n{expression}")
    assert "state key 'bad'" in str(failed.value) and reason in str(failed.value)
    assert failed.value.path == "wf.sloth" and failed.value.line == 2  # the caller's line
    assert store.state.get("prod", "bad") == "before"  # nothing half-written


def test_lock_handles(lua: Lua, store: Any) -> None:
    got = lua.run(
        """
        local h = state.lock("deploy", { ttl = "30s", reason = "release" })
        local again, who = state.lock("deploy", { holder = "someone-else" })
        local renewed = h:renew("1m")
        local t = state.try_lock("other", 5)
        return h.name, h.holder, h.token, again, who, renewed, t.token > h.token, h:unlock(), h:unlock()
        """
    )
    assert got[:2] == ("deploy", "run1:task1")
    assert got[3:] == (None, "held by run1:task1", True, True, True, False)
    assert store.state.lock_info("other").holder == "run1:task1"
    assert lua.run('return state.unlock("other"), state.unlock("other")') == (True, False)


def test_lock_reports_the_holder_and_waits(lua: Lua, store: Any) -> None:
    store.state.lock("busy", "ops@console", ttl=0.4)
    assert lua.run('return state.lock("busy")') == (None, "held by ops@console")
    started = time.monotonic()
    token = lua.run('local h = state.lock("busy", { wait = "3s" }); return h.token')
    assert token > 0 and time.monotonic() - started < 2


def test_with_lock_returns_results_and_releases_on_error(lua: Lua, store: Any) -> None:
    assert lua.run('return state.with_lock("w", function() return 1, "two" end)') == (1, "two")
    assert store.state.lock_info("w") is None
    with pytest.raises(LuaRuntimeError, match="boom") as failed:
        lua.run('state.with_lock("w", function()\n  error("boom")\nend)')
    assert failed.value.line == 2
    assert store.state.lock_info("w") is None
    store.state.lock("w", "other", ttl=30)
    with pytest.raises(LuaRuntimeError, match="held by other"):
        lua.run('state.with_lock("w", function() end, { wait = 0.1 })')


def test_with_lock_is_released_when_the_task_times_out(lua: Lua, store: Any) -> None:
    with pytest.raises(LuaRuntimeError):
        lua.run(
            'state.with_lock("slow", function() while true do end end, { ttl = 30 })',
            deadline=time.monotonic() + 0.3,
        )
    deadline = time.monotonic() + 3
    while store.state.lock_info("slow") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.state.lock_info("slow") is None


def test_without_a_store_state_says_so() -> None:
    lua = Lua(None)
    with pytest.raises(LuaRuntimeError, match="state needs a store"):
        lua.run('state.get("x")')


def test_workflow_tasks_share_state_through_the_executor(store: Any, tmp_path: Path) -> None:
    source = """
local tasks = {}
for i = 1, 6 do
  tasks[#tasks + 1] = task("t" .. i):command(function()
    for _ = 1, 25 do state.increment("hits") end
    return state.with_lock("counter", function()
      local v = state.get("v", 0)
      exec.run("true")  -- a blocking call inside the critical section
      state.set("v", v + 1)
      return true, "ok", { seen = v }
    end, { ttl = "10s", wait = "20s" })
  end):build()
end
local slow = task("slow"):timeout("300ms"):command(function()
  state.with_lock("stuck", function() while true do end end)
end):build()
workflow.define("shared"):tasks(tasks):config({ max_parallel_tasks = 6, stack = "team-x" })
workflow.define("slowpoke"):tasks({ slow })
"""
    path = tmp_path / "wf.sloth"
    path.write_text(source)
    request = RunRequest(str(path), home=tmp_path / "home", cwd=tmp_path, store=store)
    loaded = load(request)
    for spec in loaded.spec.workflows:
        asyncio.run(WorkflowRun(request, loaded, spec).execute())
    assert store.state.get("team-x", "hits") == 150
    assert store.state.get("team-x", "v") == 6
    runs = {r["workflow"]: r for r in store.runs.list_runs()}
    assert runs["shared"]["status"] == "success"
    seen = sorted(t["outputs"]["seen"] for t in store.runs.get_run(runs["shared"]["run_id"])["tasks"])
    assert seen == [0, 1, 2, 3, 4, 5]
    deadline = time.monotonic() + 3
    while store.state.lock_info("stuck") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.state.lock_info("stuck") is None
