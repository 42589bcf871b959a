"""The Lua modules, driven through a real sandbox: real files, real subprocesses, real time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from sloth_engine.errors import LuaRuntimeError
from sloth_engine.lua.sandbox import Sandbox, TaskScope
from sloth_engine.modules import ModuleEnv

pytestmark = pytest.mark.timeout(30)

MODULES = (
    "log",
    "exec",
    "fs",
    "data",
    "strings",
    "time",
    "crypto",
    "template",
    "facts",
    "goroutine",
    "event",
)


class RecordingSet(set):  # type: ignore[type-arg]
    """scope.processes that also remembers every process ever added."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def add(self, item: Any) -> None:
        self.seen.append(item)
        super().add(item)


@dataclass
class Lua:
    sandbox: Sandbox
    root: Path
    lines: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run(self, body: str, timeout: float = 5.0) -> Any:
        """Run `body` as a function in chunk test.sloth (body starts on line 1) under the guard."""
        fn = self.sandbox.run_lua("return function() " + body + "\nend", "test.sloth")
        return self.sandbox.call(fn, deadline=time.monotonic() + timeout)


@pytest.fixture
def lua(tmp_path: Path) -> Lua:
    sandbox = Sandbox()
    harness = Lua(sandbox, tmp_path)
    sandbox.scope = TaskScope(
        task_name="t",
        workdir=str(tmp_path),
        log=lambda stream, line: harness.lines.append((stream, line)),
        processes=RecordingSet(),
    )
    env = ModuleEnv(base_dir=tmp_path, emit_event=lambda kind, data: harness.events.append((kind, data)))
    for name in MODULES:  # install_all would also need state_mod, owned elsewhere
        importlib.import_module(f"sloth_engine.modules.{name}_mod").install(sandbox, env)
    return harness


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in the process group."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


# ---- exec -----------------------------------------------------------------------------


def test_exec_result_is_a_table_and_behaves_as_stdout(lua: Lua) -> None:
    result = lua.run(
        """
        local r = exec.run("echo hello world")
        return r.success, r.exit_code, r.stdout, tostring(r), r .. "!", "<" .. r, r:match("w(o)r"),
               r:find("world", 1, true), (r:gsub("hello", "bye")), #r, r:upper()
        """
    )
    assert result == (
        True,
        0,
        "hello world\n",
        "hello world\n",
        "hello world\n!",
        "<hello world\n",
        "o",
        7,
        "bye world\n",
        12,
        "HELLO WORLD\n",
    )
    assert lua.lines == []  # output is returned, never logged


def test_exec_failure_is_a_result_not_an_error(lua: Lua) -> None:
    assert lua.run(
        'local r = exec.run("echo out; echo oops >&2; exit 3") return r.success, r.exit_code, r.stdout, r.stderr'
    ) == (
        False,
        3,
        "out\n",
        "oops\n",
    )
    assert lua.run('local r = exec.run({"no-such-command-here"}) return r.exit_code, r.stderr') == (
        127,
        "command not found: no-such-command-here",
    )


def test_exec_env_workdir_input_and_argv(lua: Lua) -> None:
    (lua.root / "sub").mkdir()
    assert lua.run('return exec.run("pwd").stdout') == f"{lua.root}\n"  # the task's workdir
    result = lua.run(
        """
        local r = exec.run({"sh", "-c", "echo $GREETING $N; pwd; cat"},
                           {env = {GREETING = "hi", N = 5}, workdir = "sub", input = "from stdin"})
        return r.stdout
        """
    )
    assert result == f"hi 5\n{lua.root / 'sub'}\nfrom stdin"
    assert "PATH" in lua.run('return exec.run("env", {env = {X = "1"}}).stdout')  # merged over os.environ
    with pytest.raises(LuaRuntimeError, match="workdir .* does not exist") as info:
        lua.run('exec.run("true", {workdir = "missing"})')
    assert (info.value.path, info.value.line) == ("test.sloth", 1)


def test_exec_own_timeout_gives_exit_124(lua: Lua) -> None:
    started = time.monotonic()
    code, success, stderr, stdout = lua.run(
        'local r = exec.run("echo before; sleep 10", {timeout = "200ms"}) return r.exit_code, r.success, r.stderr, r.stdout'
    )
    assert (code, success, stdout) == (124, False, "before\n")
    assert "timed out after 200ms" in stderr
    assert time.monotonic() - started < 2
    assert not lua.sandbox.scope.processes


def test_exec_stopped_by_guard_kills_the_process_group(lua: Lua) -> None:
    started = time.monotonic()
    try:
        with pytest.raises(LuaRuntimeError, match="stopped"):
            fn = lua.sandbox.run_lua(
                'return function() exec.run("sleep 30 & sleep 30; wait") end', "test.sloth"
            )
            lua.sandbox.call(fn, deadline=time.monotonic() + 0.3)
        assert time.monotonic() - started < 2
        (proc,) = lua.sandbox.scope.processes.seen  # type: ignore[attr-defined]
        assert proc.returncode is not None
        assert not lua.sandbox.scope.processes
        # SIGKILL is delivered asynchronously: the group is gone a moment after the kill.
        deadline = time.monotonic() + 2
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not group_alive(proc.pid)
    finally:
        for proc in lua.sandbox.scope.processes.seen:  # type: ignore[attr-defined]
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---- time -----------------------------------------------------------------------------


def test_time_sleep_is_interrupted_by_the_guard(lua: Lua) -> None:
    started = time.monotonic()
    lua.sandbox.chunk_names.add("test.sloth")  # as the loader does for a workflow file
    fn = lua.sandbox.run_lua("return function()\n  time.sleep(30)\nend", "test.sloth")
    with pytest.raises(LuaRuntimeError, match="stopped") as info:
        lua.sandbox.call(fn, deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 1.5
    assert (info.value.path, info.value.line) == ("test.sloth", 2)


def test_time_helpers(lua: Lua) -> None:
    ts = 1_700_000_000
    expected = datetime.fromtimestamp(ts).astimezone()
    go, strf, seconds, slept, since = lua.run(
        f"""
        local t0 = time.now()
        time.sleep("30ms")
        return time.format({ts}, "2006-01-02 15:04:05"), time.format({ts}, "%Y/%m/%d"),
               time.parse_duration("1m30s"), time.now() - t0, time.since(t0)
        """
    )
    assert go == expected.strftime("%Y-%m-%d %H:%M:%S")
    assert strf == expected.strftime("%Y/%m/%d")
    assert seconds == 90
    assert 0.025 <= slept < 1 and since >= slept
    assert abs(lua.run("return time.unix_ms()") / 1000 - time.time()) < 5


# ---- fs -------------------------------------------------------------------------------


def test_fs_round_trip(lua: Lua) -> None:
    result = lua.run(
        """
        assert(fs.mkdir("a/b/c") == true and fs.mkdir("a/b/c"))
        fs.write("a/b/c/f.txt", "one\\n")
        fs.append("a/b/c/f.txt", "two\\n")
        fs.copy("a/b/c/f.txt", "a/g.txt")
        local missing, err = fs.read("nope.txt")
        local listing = fs.ls("a")
        local out = { fs.read("a/g.txt"), fs.size("a/g.txt"), fs.exists("a/g.txt"), fs.is_dir("a/b"),
                      #listing, listing[1], listing[2], missing == nil, err, fs.basename("/x/y.tar.gz/"),
                      fs.dirname("/x/y/z"), fs.dirname("file"), #fs.glob("a/**/*.txt") }
        fs.rm("a/g.txt")
        fs.rmr("a/b")
        fs.rmr("a/b")  -- already gone: fine
        out[#out + 1] = fs.exists("a/g.txt") or fs.exists("a/b")
        out[#out + 1] = fs.tmpname():find("sloth-", 1, true) ~= nil
        return table.unpack(out)
        """
    )
    assert result[:7] == ("one\ntwo\n", 8, True, True, 2, "b", "g.txt")
    assert result[7] is True and "No such file" in result[8] and "nope.txt" in result[8]
    assert result[9:] == ("y.tar.gz", "/x/y", ".", 2, False, True)
    assert (lua.root / "a").is_dir() and not (lua.root / "a" / "b").exists()


def test_fs_changes_raise_on_failure(lua: Lua) -> None:
    with pytest.raises(LuaRuntimeError, match="no/such/dir/f.txt") as info:
        lua.run('\nfs.write("no/such/dir/f.txt", "x")')
    assert info.value.line == 2
    with pytest.raises(LuaRuntimeError, match="No such file"):
        lua.run('fs.rm("absent")')


# ---- data -----------------------------------------------------------------------------


def test_json_and_yaml_round_trip_nested_and_empty_tables(lua: Lua) -> None:
    value = lua.run(
        """
        local v = { name = "x", list = {1, 2, {deep = {true, false}}}, empty = {}, n = 1.5 }
        local j = json.decode(json.encode(v))
        local y = yaml.decode(yaml.encode(v))
        local d = data.json_decode(data.json_pretty(v))
        assert(json.encode({}) == "{}" and json.encode({1, 2, 3}) == "[1,2,3]")
        assert(json.encode({b = 1, a = {}}) == '{"a":{},"b":1}')
        assert(yaml.encode({}) == "{}\\n")
        return j, y, d
        """
    )
    expected = {"name": "x", "list": [1, 2, {"deep": [True, False]}], "empty": {}, "n": 1.5}
    assert [lua.sandbox.to_py(v) for v in value] == [expected] * 3


def test_decode_errors_name_the_position(lua: Lua) -> None:
    with pytest.raises(LuaRuntimeError, match=r"json decode: .* at line 2 column 8") as info:
        lua.run('\nlocal v = json.decode("{\\n  \\"a\\": }")')
    assert info.value.line == 2
    with pytest.raises(LuaRuntimeError, match=r"yaml decode: .* at line 1"):
        lua.run('return yaml.decode("a: [1, 2")')
    assert lua.run('return data.parse_json("nope")')[0] is None  # the original's nil, err form
    with pytest.raises(LuaRuntimeError, match="cannot be encoded"):
        lua.run("return json.encode({f = print})")


# ---- strings, crypto ------------------------------------------------------------------


def test_strings_helpers(lua: Lua) -> None:
    result = lua.run(
        """
        local parts = strings.split("a,b,,c", ",")
        return #parts, parts[3], strings.join({"x", "y", 3}, "-"), strings.trim("  hi \\n"),
               strings.trim("xxhixx", "x"), strings.trim_prefix("v1.2", "v"), strings.trim_suffix("a.lua", ".lua"),
               strings.has_prefix("hello", "he"), strings.contains("hello", "ll"),
               strings.replace("aaaa", "a", "b", 2), strings.replace("aaaa", "a", "b"), strings.title("hello wORLD"),
               strings.upper("abc"), strings.to_lower("ABC"), strings["repeat"]("ab", 3), strings.index("chicken", "ken"),
               strings.index("x", "z"), #strings.fields(" a  b c "), #strings.lines("1\\n2\\n3"), #strings.split("abc", "")
        """
    )
    assert result == (
        4,
        "",
        "x-y-3",
        "hi",
        "hi",
        "1.2",
        "a",
        True,
        True,
        "bbaa",
        "bbbb",
        "Hello WORLD",
        "ABC",
        "abc",
        "ababab",
        4,
        -1,
        3,
        3,
        3,
    )


def test_crypto_helpers(lua: Lua) -> None:
    sha, md5, mac, b64, back, binary, uuid = lua.run(
        """
        local raw = crypto.base64_decode("/wBB")
        return crypto.sha256("abc"), crypto.md5("abc"), crypto.hmac_sha256("key", "msg"),
               crypto.base64_encode("héllo"), crypto.base64_decode(crypto.base64_encode("héllo")),
               { #raw, raw:byte(1), raw:byte(2), raw:byte(3) }, crypto.uuid()
        """
    )
    assert sha == hashlib.sha256(b"abc").hexdigest() and md5 == hashlib.md5(b"abc").hexdigest()
    assert mac == hmac.new(b"key", b"msg", "sha256").hexdigest()
    assert b64 == base64.b64encode("héllo".encode()).decode() and back == "héllo"
    assert lua.sandbox.to_py(binary) == [3, 255, 0, 65]  # bytes that are not UTF-8 survive
    assert len(uuid) == 36 and uuid.count("-") == 4
    assert len(lua.run("return crypto.random_string(24)")) == 24


# ---- template -------------------------------------------------------------------------


def test_template_render_and_strict_undefined(lua: Lua) -> None:
    assert lua.run(
        'return template.render("{{ name }} has {{ items|length }} items", {name = "web", items = {1, 2}})'
    ) == ("web has 2 items")
    with pytest.raises(LuaRuntimeError, match="'port' is undefined") as info:
        lua.run('\nlocal s = template.render("listen {{ port }}", {host = "h"})')
    assert info.value.line == 2
    (lua.root / "tpl").mkdir()
    (lua.root / "tpl" / "main.j2").write_text("{% include 'part.j2' %}={{ v }}\n")
    (lua.root / "tpl" / "part.j2").write_text("part")
    assert lua.run('return template.render_file("tpl/main.j2", {v = 7})') == "part=7\n"
    with pytest.raises(LuaRuntimeError, match="unsafe|not safely|access"):
        lua.run('return template.render("{{ x.__class__.__mro__ }}", {x = "s"})')


# ---- goroutine ------------------------------------------------------------------------


def test_goroutine_spawn_and_wait_group(lua: Lua) -> None:
    order = lua.run(
        """
        local wg, order = goroutine.wait_group(), {}
        for i = 1, 5 do
          wg:add(1)
          goroutine.spawn(function() goroutine.sleep(20 * (6 - i)); order[#order + 1] = i; wg:done() end)
        end
        wg:wait()
        return table.concat(order, ",")
        """
    )
    assert order == "5,4,3,2,1"  # run one after another, it would be 1,2,3,4,5


def test_goroutine_channel_producer_consumer(lua: Lua) -> None:
    result = lua.run(
        """
        local jobs, results = goroutine.channel(), goroutine.channel(2)
        goroutine.spawn(function()
          for i = 1, 10 do jobs:send(i) end
          jobs:close()
        end)
        for w = 1, 3 do
          goroutine.spawn(function()
            while true do
              local v, ok = jobs:receive()
              if not ok then break end
              results:send(v * v)
            end
          end)
        end
        local sum = 0
        for _ = 1, 10 do sum = sum + results:recv() end
        local v, ok = jobs:receive()
        return sum, v, ok, results:len()
        """
    )
    assert result == (385, None, False, 0)


def test_goroutine_await_all_keeps_submission_order(lua: Lua) -> None:
    result = lua.run(
        """
        local hs = {}
        for i = 1, 4 do
          hs[i] = goroutine.async(function(n) goroutine.sleep(10 * (5 - n)); return n * 10, "x" end, i)
        end
        hs[5] = goroutine.async(function() error("boom") end)
        local all = goroutine.await_all(hs)
        local firsts = {}
        for i = 1, 4 do firsts[i] = all[i].values[1] end
        local ok, err = goroutine.await(hs[5])
        return table.concat(firsts, ","), all[1].success, all[5].success, all[5].error, ok, err, hs[2]:await()
        """
    )
    assert result[:3] == ("10,20,30,40", True, False)
    assert "boom" in result[3] and result[4] is False and "boom" in result[5]
    assert result[6:] == (True, 20, "x")
    assert lua.lines == []  # async errors go to await, not to the log


def test_goroutine_deadlock_is_a_clear_error(lua: Lua) -> None:
    with pytest.raises(LuaRuntimeError, match="goroutine deadlock") as info:
        lua.run(
            """
            local ch = goroutine.channel()
            goroutine.spawn(function() ch:receive() end)
            local wg = goroutine.wait_group()
            wg:add(1)
            wg:wait()
            """
        )
    assert (info.value.path, info.value.line) == ("test.sloth", 6)
    with pytest.raises(LuaRuntimeError, match="goroutine deadlock"):
        lua.run("goroutine.channel():receive()")


def test_goroutine_sleep_and_failures(lua: Lua) -> None:
    started = time.monotonic()
    lua.run("goroutine.sleep(50)")
    assert 0.045 <= time.monotonic() - started < 0.5
    lua.run('goroutine.spawn(function() error("bad worker") end)')
    assert any(stream == "stderr" and "bad worker" in line for stream, line in lua.lines)
    fn = lua.sandbox.run_lua("return function() goroutine.sleep(30000) end", "test.sloth")
    started = time.monotonic()
    with pytest.raises(LuaRuntimeError, match="stopped"):
        lua.sandbox.call(fn, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 1


def test_goroutine_sync_objects(lua: Lua) -> None:
    result = lua.run(
        """
        local mu, counter, wg = goroutine.mutex(), 0, goroutine.wait_group()
        local sem, inside, most = goroutine.semaphore(2), 0, 0
        local atom, once, ran = goroutine.atomic_int(0), goroutine.once(), 0
        for i = 1, 6 do
          wg:add(1)
          goroutine.spawn(function()
            mu:lock(); local c = counter; goroutine.sleep(1); counter = c + 1; mu:unlock()
            sem:acquire(); inside = inside + 1; most = math.max(most, inside)
            goroutine.sleep(5); inside = inside - 1; sem:release()
            atom:add(2)
            once:call(function() ran = ran + 1 end)
            wg:done()
          end)
        end
        wg:wait()
        local ch = goroutine.channel(1)
        local picked = goroutine.select({ {channel = ch, receive = true}, {default = true} })
        ch:send("v")
        local idx, got = goroutine.select({ {channel = ch, receive = true, handler = function(v) return v .. "!" end} })
        local timed_out = goroutine.select_timeout(20, { {channel = ch, receive = true} })
        local ctx = goroutine.with_timeout(30)
        local before = ctx:done()
        ctx:wait()
        return counter, most, atom:get(), atom:cas(12, 1), ran, picked, idx, got, timed_out, before, ctx:err()
        """
    )
    assert result == (6, 2, 12, True, 1, 0, 1, "v!", True, False, "context deadline exceeded")


def test_goroutines_of_an_ended_task_do_not_run_in_the_next(lua: Lua) -> None:
    lua.run('goroutine.spawn(function() goroutine.sleep(10); log.info("late") end)')
    lua.sandbox.scope = TaskScope(task_name="next", log=lambda stream, line: lua.lines.append((stream, line)))
    lua.run("goroutine.sleep(30)")
    assert lua.lines == []


# ---- facts, log, event ----------------------------------------------------------------


def test_facts_shape(lua: Lua) -> None:
    facts = lua.sandbox.to_py(lua.run("return facts.get_all()"))
    assert {"hostname", "platform", "cpu", "memory", "disk", "network", "uptime", "load"} <= set(facts)
    assert {"os", "release", "arch"} <= set(facts["platform"])
    assert facts["cpu"]["count"] >= 1 and 0 <= facts["cpu"]["percent"] <= 100
    assert facts["memory"]["total"] > 0 and 0 <= facts["memory"]["percent"] <= 100
    assert {"total", "used", "free", "percent"} <= set(facts["disk"])
    assert any(i["name"] == "lo" for i in facts["network"]["interfaces"])
    assert set(facts["load"]) == {"l1", "l5", "l15"} and facts["uptime"] > 0
    assert lua.run("return facts.get_hostname()") == facts["hostname"]
    with pytest.raises(LuaRuntimeError, match="facts of agent 'web-1' need a master"):
        lua.run('return facts.get_all({agent = "web-1"})')


def test_log_lines_reach_the_task_log(lua: Lua) -> None:
    lua.run(
        """
        log.info("hello", 42, true, nil)
        log.warn("careful"); log.warning("w2"); log.error("bad")
        log.debug("dbg"); log.success("yay"); log.print("plain")
        log.info(exec.run("printf out"))
        log.table({ b = { 1, 2 }, a = "x" }, "cfg")
        """
    )
    assert lua.lines[:8] == [
        ("stdout", "[INFO] hello 42 true nil"),
        ("stderr", "[WARN] careful"),
        ("stderr", "[WARN] w2"),
        ("stderr", "[ERROR] bad"),
        ("stdout", "[DEBUG] dbg"),
        ("stdout", "[SUCCESS] yay"),
        ("stdout", "plain"),
        ("stdout", "[INFO] out"),
    ]
    table_lines = [line for _, line in lua.lines[8:]]
    assert table_lines[0] == "[INFO] cfg:" and '[INFO]   a = "x",' in table_lines


def test_event_dispatch_reaches_emit_event(lua: Lua) -> None:
    assert lua.run('return event.dispatch("deploy.done", { version = "1.2", hosts = { "a", "b" } })') is True
    lua.run('event.dispatch_custom("note", "hi")')
    assert lua.events == [
        ("deploy.done", {"version": "1.2", "hosts": ["a", "b"]}),
        ("custom", {"name": "note", "message": "hi"}),
    ]
    with pytest.raises(LuaRuntimeError, match="non-empty string") as info:
        lua.run('\nevent.dispatch("", {})')
    assert info.value.line == 2
    with pytest.raises(LuaRuntimeError, match="function"):
        lua.run('event.dispatch("x", { f = print })')
