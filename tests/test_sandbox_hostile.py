"""Hostile workflow code: each snippet is refused or bounded with a clear error.

The snippets run through the real engine (a WorkflowRun in this process, the CLI, and a
real master and agent). After them the same process still runs an ordinary workflow, no
file appeared outside the test's folder and no process was left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from sloth_engine.executor.results import RunEvent, RunResult
from sloth_engine.modules import GLOBALS
from sloth_engine.run import RunRequest, WorkflowRun, load

SENTINEL = Path.home() / f".sloth-hostile-{uuid.uuid4().hex}"
LOOP = "timed out"
WALK = """
local seen, found = {}, {}
local function walk(v, path, depth)
  if depth > 6 or seen[v] then return end
  local kind = type(v)
  if kind == "userdata" then found[#found + 1] = path return end
  if kind ~= "table" then return end
  seen[v] = true
  local mt = getmetatable(v)
  if type(mt) == "table" then walk(mt, path .. "<mt>", depth + 1) end
  for k, item in pairs(v) do walk(item, path .. "." .. tostring(k), depth + 1) end
end
for _, name in ipairs(MODULES) do walk(_G[name], name, 0) end
walk(_G, "_G", 0)
if #found > 0 then error("python objects reachable: " .. table.concat(found, " ")) end
error("no python object reachable")
"""

# (id, task body, what the task's error must say)
CATALOGUE: list[tuple[str, str, str]] = [
    ("io-open", 'io.open("@S", "w"):write("x")', r"nil value \(global 'io'\)"),
    ("io-popen", 'io.popen("touch @S")', r"nil value \(global 'io'\)"),
    ("os-execute", 'os.execute("touch @S")', r"nil value \(field 'execute'\)"),
    ("os-remove", 'os.remove("@S")', r"nil value \(field 'remove'\)"),
    ("os-exit", "os.exit(3)", r"nil value \(field 'exit'\)"),
    ("os-getenv-token", 'error("token=" .. tostring(os.getenv("SLOTH_TOKEN")))', r"token=nil"),
    ("os-getenv-pass", 'error("p=" .. tostring(os.getenv("SLOTH_SECRETS_PASSPHRASE")))', r"p=nil"),
    ("string-dump", "load(string.dump(function() end))", r"nil value \(field 'dump'\)"),
    ("load-bytecode", 'error(select(2, load("\\27LuaT\\0\\25\\147")))', r"attempt to load a binary chunk"),
    ("load-mode-b", 'error(select(2, load("\\27Lua", "x", "b")))', r"attempt to load a binary chunk"),
    ("debug", "debug.sethook()", r"nil value \(global 'debug'\)"),
    ("dofile", 'dofile("/etc/passwd")', r"nil value \(global 'dofile'\)"),
    ("loadfile", 'loadfile("/etc/passwd")', r"nil value \(global 'loadfile'\)"),
    ("package", 'package.loadlib("libc.so.6", "system")', r"nil value \(global 'package'\)"),
    ("python-object", "python.eval('1')", r"nil value \(global 'python'\)"),
    ("python-builtins", "python.builtins.open('@S', 'w')", r"nil value \(global 'python'\)"),
    ("no-python-values", WALK, r"no python object reachable"),
    ("function-attribute", "local f = exec.run return f.__globals__", r"attempt to index a function value"),
    ("module-metatable", "getmetatable(exec).__index = 1", r"attempt to index a nil value"),
    ("string-metatable", 'getmetatable("").__index = {}', r"attempt to index a boolean value"),
    ("string-setmetatable", 'setmetatable("", {})', r"table expected, got string"),
    ("global-metatable", "setmetatable(_G, {})", r"cannot change a protected metatable"),
    ("global-metatable-get", "getmetatable(_G).__index = nil", r"attempt to index a boolean value"),
    ("collectgarbage-stop", 'collectgarbage("stop")', r"collectgarbage\('stop'\) is not allowed"),
    ("collectgarbage-mode", 'collectgarbage("generational")', r"is not allowed"),
    ("gc-finalizer", "setmetatable({}, { __gc = function() while true do end end })", r"__gc metamethods"),
    (
        "tostring-error",
        "error(setmetatable({}, { __tostring = function() while true do end end }))",
        r"error object is a table value",
    ),
    ("import-parent", 'import("../outside.lua")', r"only files inside the workflow's folder"),
    ("import-absolute", 'import("/etc/passwd")', r"only files inside the workflow's folder"),
    ("import-symlink", 'import("link.lua")', r"only files inside the workflow's folder"),
    ("require-escape", 'require("../../../etc/passwd")', r"only files inside the workflow's folder"),
    ("endless-loop", "while true do end", LOOP),
    ("pcall-loop", "while true do pcall(function() while true do end end) end", LOOP),
    ("coroutine-loop", "coroutine.wrap(function() while true do end end)()", LOOP),
    (
        "coroutine-pcall-loop",
        "local co = coroutine.create(function() while true do pcall(error, 'x') end end) "
        "while true do coroutine.resume(co) end",
        LOOP,
    ),
    ("coroutine-yield-top", "coroutine.yield(1)", r"outside a coroutine"),
    ("deep-recursion", "local function f(n) return f(n + 1) + 1 end f(1)", r"stack overflow"),
    ("coroutine-nesting", "local function f() return coroutine.wrap(f)() end f()", r"stack overflow"),
    (
        "memory-bomb",
        'local t, s = {}, string.rep("x", 1e6) for i = 1, 1e5 do t[i] = s .. i end',
        r"memory limit exceeded",
    ),
    ("huge-string", 'local s = string.rep("x", 2^40)', r"too large|memory limit"),
    ("concat-bomb", 'local s = "x" while true do s = s .. s end', r"too large|memory limit"),
    ("pattern-backtrack", 'string.find(string.rep("a", 30000), ".-.-.-.-b")', r"pattern .* too costly"),
    ("pattern-method", 'local s = string.rep("a", 1e5) s:gsub("a*a*a*b", "")', r"too costly"),
    ("invalid-utf8-error", "error(string.char(0xc2))", r"not valid UTF-8"),
    ("invalid-utf8-value", "return true, string.char(0xff)", r"not valid UTF-8"),
    ("invalid-utf8-key", 'return true, "m", { [string.char(0xff)] = 1 }', r"not valid UTF-8"),
    ("format-width", 'string.format("%99999d", 1)', r"invalid conversion"),
    (
        "exec-huge-output",
        "local r = exec.run(\"head -c 20000000 /dev/zero | tr '\\\\0' x\") "
        'error("kept " .. #r.stdout .. " truncated=" .. tostring(r.truncated))',
        r"kept 16777216 truncated=true",
    ),
    (
        "exec-output-at-memory-limit",
        'local big = string.rep("x", 245e6) exec.run("head -c 16000000 /dev/zero | tr \'\\\\0\' y")',
        r"memory limit exceeded",
    ),
    (
        "fs-read-huge-file",
        'exec.run("head -c 17000000 /dev/zero > big.bin") error(tostring(select(2, fs.read("big.bin"))))',
        r"larger than fs.read's 16 MiB limit",
    ),
    # C functions that loop or allocate without returning to the count hook (issue 14)
    (
        "table-move-range",
        "table.move({}, 1, 1e15, 1, {})",
        r"table.move: a range of 1000000000000000 elements",
    ),
    ("string-rep-empty", 'local s = string.rep("", 2^62) error("len=" .. #s)', r"len=0"),
    ("string-rep-sep", 'string.rep("x", 2^40, ",")', r"string.rep: a result of .* does not fit"),
    ("string-rep-method", '("ab"):rep(2^50)', r"string.rep: a result of .* does not fit"),
    ("table-concat-range", 'table.concat({}, "", 1, 1e15)', r"table.concat: a range of"),
    (
        "table-insert-lying-len",
        "table.insert(setmetatable({}, { __len = function() return 2^53 end }), 1, 1)",
        r"table.insert: a length of 9007199254740992",
    ),
    (
        "table-sort-lying-len",
        "table.sort(setmetatable({}, { __len = function() return 2^53 end }))",
        r"table.sort: a length of",
    ),
    (
        "table-remove-lying-len",
        "table.remove(setmetatable({}, { __len = function() return 2^53 end }), 1)",
        r"table.remove: a length of",
    ),
    ("table-unpack-range", "table.unpack({}, 1, 1e8)", r"table.unpack: a range of 100000000"),
    (
        "find-plain-quadratic",
        'local s = ("a"):rep(2e7) string.find(s, ("a"):rep(1e5) .. "b", 1, true)',
        r"string.find: searching 20000000 bytes for a 100001-byte pattern is too costly",
    ),
    ("format-huge-precision", 'string.format("%.99999f", 1)', r"invalid conversion"),
    # Lua semantics under a deadline (issue 14)
    (
        "coroutine-swallows-timeout",
        "local ok, err = coroutine.resume(coroutine.create(function() while true do end end)) "
        'return true, "swallowed: " .. tostring(err)',
        LOOP,
    ),
    (
        "exec-after-deadline",
        'pcall(coroutine.wrap(function() while true do end end)) pcall(exec.run, "touch @S") return true',
        LOOP,
    ),
    (
        "module-after-deadline-pcall-loop",
        'while true do pcall(coroutine.wrap(function() while true do end end)) pcall(exec.run, "touch @S") end',
        LOOP,
    ),
    (
        "huge-outputs",
        'local s = string.rep("x", 3e6) return true, "m", { a = s, b = s }',
        r"outputs too large",
    ),
]


def _run(tmp_path: Path, body: str, events: list[RunEvent], timeout: str = "1s") -> RunResult:
    body = body.replace("@S", str(SENTINEL))
    names = ", ".join(f'"{n}"' for n in sorted(GLOBALS))
    source = (
        f"MODULES = {{ {names} }}\n"
        f'local t = task("t"):timeout("{timeout}"):command(function(this, params, input)\n{body}\nend)\n'
        'workflow.define("w"):tasks({ t })\n'
    )
    path = tmp_path / "wf" / "hostile.sloth"
    path.parent.mkdir(exist_ok=True)
    path.write_text(source)
    link = path.parent / "link.lua"
    if not link.exists():
        (tmp_path / "outside.lua").write_text("return 1\n")
        link.symlink_to(tmp_path / "outside.lua")
    request = RunRequest(str(path), home=tmp_path / "home", cwd=tmp_path, listeners=[events.append])
    loaded = load(request)
    return asyncio.run(WorkflowRun(request, loaded, loaded.spec.workflows[0]).execute())


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize(("name", "body", "expected"), CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_hostile_snippet_is_refused_or_bounded(tmp_path: Path, name: str, body: str, expected: str) -> None:
    before = _children()
    events: list[RunEvent] = []
    # Snippets that must be stopped by the timeout get 1 s; the others end by their own error,
    # and 1 s was too short for some (the walk over every module) on a loaded machine.
    result = _run(tmp_path, body, events, timeout="1s" if expected == LOOP else "60s")
    task = result.tasks[0]
    assert task.status.value in ("failed", "timed_out"), (name, task.status, task.error)
    assert re.search(expected, task.error), (name, task.error)
    assert not SENTINEL.exists()
    assert _children() <= before
    # The same process goes on serving: an ordinary workflow runs right after.
    ok = _run(tmp_path, 'return true, "fine"', [])
    assert ok.tasks[0].status.value == "success"


def test_catalogue_is_large_enough() -> None:
    assert len(CATALOGUE) >= 30


def test_enormous_output_is_kept_bounded(tmp_path: Path) -> None:
    events: list[RunEvent] = []
    body = 'for i = 1, 1e6 do print(string.rep("y", 1000)) end print(string.rep("z", 1e6))'
    result = _run(tmp_path, body, events)
    lines = [e.data["line"] for e in events if e.kind == "task.log"]
    assert result.tasks[0].status.value == "timed_out"
    assert sum(len(line) + 1 for line in lines) <= 1024 * 1024 + 64 * 1024
    assert lines[-1] == "[output truncated: over 1 MiB]"


def test_long_line_and_message_are_cut(tmp_path: Path) -> None:
    events: list[RunEvent] = []
    result = _run(tmp_path, 'print(string.rep("z", 1e6)) return false, string.rep("m", 3e6)', events)
    lines = [e.data["line"] for e in events if e.kind == "task.log"]
    assert lines == ["z" * 64 * 1024 + " [line truncated]"]
    assert len(result.tasks[0].error) < 1024 * 1024 + 100
    assert result.tasks[0].error.endswith("[truncated: 3000000 characters]")


def test_ordinary_patterns_still_work_on_large_text(tmp_path: Path) -> None:
    body = """
local out = string.rep("test ok 12 passed\\n", 50000)
local n = 0
for line in out:gmatch("[^\\n]+") do n = n + 1 end
local trimmed = ("  " .. out .. "  "):match("^%s*(.-)%s*$")
return true, "m", { n = n, passed = out:match("(%d+) passed"), len = #trimmed }
"""
    result = _run(tmp_path, body, [])
    assert result.tasks[0].outputs == {"n": 50000, "passed": "12", "len": 18 * 50000 - 1}


HIDDEN_VARIABLES = (
    "SLOTH_TOKEN",
    "SLOTH_DB",
    "PGPASSWORD",
    "PGUSER",
    "DB_PASSWORD",
    "github_token",
    "AWS_SECRET_ACCESS_KEY",
    "API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


def test_os_getenv_keeps_ordinary_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HIDDEN_VARIABLES:
        monkeypatch.setenv(name, "sekrit")
    monkeypatch.setenv("PLAIN_VAR", "visible")
    monkeypatch.setenv("KEYBOARD", "us")
    reads = ", ".join(f'["{n}"] = os.getenv("{n}")' for n in (*HIDDEN_VARIABLES, "PLAIN_VAR", "KEYBOARD"))
    body = f'return true, "m", {{ {reads} }}'
    result = _run(tmp_path, body, [])
    assert result.tasks[0].outputs == {"PLAIN_VAR": "visible", "KEYBOARD": "us"}
    assert os.environ["SLOTH_TOKEN"] == "sekrit" and os.environ["PGPASSWORD"] == "sekrit"


REMOTE = [
    "io-open",
    "endless-loop",
    "memory-bomb",
    "pattern-backtrack",
    "tostring-error",
    "gc-finalizer",
    "exec-huge-output",
    "table-move-range",
    "string-rep-empty",
    "table-insert-lying-len",
]
SPINNING = ["coroutine-swallows-timeout", "exec-after-deadline"]
"""Spin the agent's one Lua thread to their timeout: run apart, so they starve no other case."""


def _remote_file(names: list[str], where: str = ":delegate_to({ any = true })") -> str:
    chosen = {c[0]: c[1] for c in CATALOGUE}
    lines = []
    for i, name in enumerate(names):
        body = chosen[name].replace("@S", str(SENTINEL))
        lines.append(f'local t{i} = task("{name}"):timeout("2s"){where}:command(function()\n{body}\nend)')
    lines.append(f'local fine = task("fine"){where}:command(function() return true, "ok" end)')
    tasks = ", ".join([f"t{i}" for i in range(len(names))] + ["fine"])
    lines.append(f'workflow.define("hostile"):tasks({{ {tasks} }}):config({{ max_parallel_tasks = 8 }})')
    return "\n".join(lines) + "\n"


def test_hostile_snippets_through_the_cli(tmp_path: Path) -> None:
    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path)
    try:
        path = cluster.write(
            "hostile.sloth", _remote_file(["io-open", "endless-loop", "tostring-error"], where="")
        )
        done = cluster.cli("run", str(path), "-o", "json", timeout=60)
        doc = json.loads(done.stdout)
        tasks = {t["name"]: t for t in doc["tasks"]}
        assert tasks["fine"]["status"] == "success"
        assert tasks["endless-loop"]["status"] == "timed_out"
        assert "global 'io'" in tasks["io-open"]["error"]
        assert not SENTINEL.exists()
    finally:
        cluster.close()


def test_hostile_snippets_on_a_real_agent(tmp_path: Path) -> None:
    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path)
    try:
        cluster.start_master()
        # A busy Lua loop holds the agent's event loop until its task's timeout (2 s here):
        # heartbeats every 2 s keep that short of "lost" (three intervals).
        agent = cluster.start_agent("alpha", max_tasks=8, heartbeat="2s")
        path = cluster.write("hostile.sloth", _remote_file(REMOTE))
        done = cluster.cli("run", str(path), "--master", cluster.address, "-o", "json", timeout=60)
        doc = json.loads(done.stdout)
        tasks = {t["name"]: t for t in doc["tasks"]}
        assert tasks["fine"]["status"] == "success", (tasks["fine"], cluster.logs())
        assert tasks["endless-loop"]["status"] == "timed_out"
        for name, _body, expected in CATALOGUE:
            if name in REMOTE and expected != LOOP:
                assert re.search(expected, tasks[name]["error"]), (name, tasks[name])
                assert tasks[name]["agent"] == "alpha"
        assert agent.poll() is None
        path = cluster.write("spinning.sloth", _remote_file(SPINNING))
        done = cluster.cli("run", str(path), "--master", cluster.address, "-o", "json", timeout=60)
        tasks = {t["name"]: t for t in json.loads(done.stdout)["tasks"]}
        assert [tasks[name]["status"] for name in SPINNING] == ["timed_out", "timed_out"], tasks
        # The agent still serves: a second run succeeds on it.
        again = cluster.write("again.sloth", _remote_file([]))
        done = cluster.cli("run", str(again), "--master", cluster.address, "-o", "json", timeout=60)
        assert done.returncode == 0, done.stderr + cluster.logs()
        assert not SENTINEL.exists()
    finally:
        cluster.close()


def _run_file(tmp_path: Path, source: str) -> RunResult:
    path = tmp_path / "wf" / "file.sloth"
    path.parent.mkdir(exist_ok=True)
    path.write_text(source)
    request = RunRequest(str(path), home=tmp_path / "home", cwd=tmp_path)
    loaded = load(request)
    return asyncio.run(WorkflowRun(request, loaded, loaded.spec.workflows[0]).execute())


def test_replaced_globals_do_not_break_the_engine(tmp_path: Path) -> None:
    source = """
coroutine = nil
pcall = nil
error = nil
setmetatable = nil
string.rep = function() return "hijacked" end
table.concat = nil
local a = task("a"):command(function()
  local r = exec.run("echo hi")
  local g = goroutine ~= nil
  return true, "m", { out = r.stdout, n = #r, again = tostring(r) }
end)
local b = task("b"):depends_on("a"):command(function(this, params, input)
  return true, "m", { seen = input.a.out }
end)
workflow.define("w"):tasks({ a, b })
"""
    result = _run_file(tmp_path, source)
    tasks = {t.name: t for t in result.tasks}
    assert tasks["a"].status.value == "success", tasks["a"].error
    assert tasks["a"].outputs == {"out": "hi\n", "n": 3, "again": "hi\n"}
    assert tasks["b"].outputs == {"seen": "hi\n"}
    assert result.status.value == "success"


def test_redefined_coroutine_create_does_not_replace_task_bodies(tmp_path: Path) -> None:
    source = """
coroutine.create = function() error("hijacked") end
coroutine.resume = function() return true, "hijacked" end
local a = task("a"):command(function() time.sleep(0.01) return true, "own body" end)
workflow.define("w"):tasks({ a })
"""
    result = _run_file(tmp_path, source)
    assert result.tasks[0].status.value == "success", result.tasks[0].error
    assert result.tasks[0].message == "own body"


def test_a_coroutine_waiting_for_one_task_cannot_be_resumed_by_another(tmp_path: Path) -> None:
    source = """
local gen = coroutine.wrap(function()
  while true do
    local r = exec.run("sleep 0.5; echo A")
    coroutine.yield(r.stdout)
  end
end)
local a = task("a"):command(function() return true, "m", { got = gen() } end)
local b = task("b"):command(function() time.sleep(0.1) return true, "m", { got = gen() } end)
local c = task("c"):command(function() HELD = coroutine.running() exec.run("sleep 0.5") return true end)
local d = task("d"):command(function()
  time.sleep(0.1)
  return coroutine.resume(HELD, "hijack")
end)
workflow.define("w"):tasks({ a, b, c, d }):config({ max_parallel_tasks = 4 })
"""
    result = _run_file(tmp_path, source)
    tasks = {t.name: t for t in result.tasks}
    assert tasks["a"].status.value == "success", tasks["a"].error
    assert tasks["a"].outputs == {"got": "A\n"}
    assert tasks["b"].status.value == "failed"
    assert "cannot resume a coroutine that is waiting in a blocking call" in tasks["b"].error
    assert tasks["c"].status.value == "success", tasks["c"].error
    assert tasks["d"].status.value == "failed"
    assert "cannot resume a coroutine that is waiting in a blocking call" in tasks["d"].error


STUCK = """
task("stuck"):timeout("1s"):command(function()
  -- Below the literal-search budget, so it runs: seconds inside one C call, past the timeout.
  local s = ("a"):rep(2e7) local p = ("a"):rep(14000) .. "b"
  return s:find(p, 1, true)
end)
"""
C_LOOP_AT_LOAD = "table.move({}, 1, 1e15, 1, {})\nworkflow.define('w'):tasks({})\n"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_lua_stuck_in_c_ends_a_local_run(tmp_path: Path) -> None:
    """The watchdog records the run and ends the process that a C call holds for good."""
    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path)
    try:
        path = cluster.write("stuck.sloth", STUCK)
        os.environ["SLOTH_LUA_STUCK_GRACE"] = "0.5"
        try:
            done = cluster.cli("run", str(path), timeout=60)
        finally:
            del os.environ["SLOTH_LUA_STUCK_GRACE"]
        assert done.returncode == 1, done.stdout + done.stderr
        assert "stuck inside a C function" in done.stderr
        run = cluster.cli_json("runs", "list", "--json")[0]
        assert run["status"] == "failed"
        assert "task 'stuck' timed out but is stuck inside a C function" in (run.get("error") or "")
        task = cluster.cli_json("runs", "show", run["run_id"], "--json")["tasks"][0]
        assert (task["task"], task["status"]) == ("stuck", "timed_out")
        again = cluster.write("again.sloth", 'task("ok"):command(function() return true end)\n')
        assert cluster.cli("run", str(again)).returncode == 0
    finally:
        cluster.close()


def test_sigterm_ends_a_local_run_stuck_in_c_without_a_timeout(tmp_path: Path) -> None:
    """The main thread is held in C, so Python never runs the signal handler: the signal tee
    and the watchdog still end the run as cancelled."""
    import subprocess
    import sys
    import time

    from distributed_cluster import Cluster, wait_for

    cluster = Cluster(tmp_path)
    try:
        path = cluster.write(
            "stuck.sloth",
            STUCK.replace(':timeout("1s")', "").replace(
                "return s:find(p, 1, true)", "for i = 1, 1000 do s:find(p, 1, true) end"
            ),
        )
        env = {**cluster.env(), "SLOTH_LUA_STUCK_GRACE": "0.5"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(path)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        cluster.procs.append(proc)  # type: ignore[arg-type]
        wait_for(lambda: _started(cluster), 30, "the run to start")
        time.sleep(0.5)  # inside the C call by now (it lasts seconds)
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, out + err
        assert "interrupted (SIGTERM) but is stuck inside a C function" in err
        run = cluster.cli_json("runs", "list", "--json")[0]
        assert run["status"] == "cancelled"
        task = cluster.cli_json("runs", "show", run["run_id"], "--json")["tasks"][0]
        assert task["status"] == "cancelled"
    finally:
        cluster.close()


def _started(cluster: Any) -> bool:
    done = cluster.cli("runs", "list", "--json")
    return done.returncode == 0 and bool(json.loads(done.stdout or "[]"))


def test_lua_stuck_in_c_replaces_the_agent_process(tmp_path: Path) -> None:
    from distributed_cluster import Cluster, wait_for

    cluster = Cluster(tmp_path)
    try:
        cluster.start_master()
        os.environ["SLOTH_LUA_STUCK_GRACE"] = "0.5"
        try:
            agent = cluster.start_agent("alpha", heartbeat="0.5s")
        finally:
            del os.environ["SLOTH_LUA_STUCK_GRACE"]
        pid = agent.pid
        ready = next(tmp_path.glob("agent-alpha-*.ready"))
        registered = ready.stat().st_mtime_ns
        threads_before = psutil.Process(pid).num_threads()
        path = cluster.write(
            "stuck.sloth", STUCK.replace(':timeout("1s")', ':timeout("1s"):delegate_to("alpha")')
        )
        done = cluster.cli("run", str(path), "--master", cluster.address, "-o", "json", timeout=60)
        task = json.loads(done.stdout)["tasks"][0]
        assert task["status"] == "timed_out", (task, cluster.logs())
        assert task["agent"] == "alpha"
        # Same pid, a fresh image: the spinning Lua thread is gone and the agent serves again.
        wait_for(lambda: "replacing this agent process" in cluster.logs(), 20, "the agent to replace itself")
        # The new image registers again and rewrites its ready file.
        wait_for(lambda: ready.stat().st_mtime_ns > registered, 30, "the new agent process to register")
        assert agent.poll() is None and _alive(pid)
        fine = cluster.write(
            "fine.sloth", 'task("ok"):delegate_to("alpha"):command(function() return true end)\n'
        )
        again = cluster.cli("run", str(fine), "--master", cluster.address, "-o", "json", timeout=60)
        assert again.returncode == 0, again.stderr + cluster.logs()
        assert json.loads(again.stdout)["tasks"][0]["agent"] == "alpha"
        assert psutil.Process(pid).cpu_percent(interval=0.5) < 50
        assert psutil.Process(pid).num_threads() <= threads_before + 12
    finally:
        cluster.close()


def _nested(depth: int) -> bytes:
    return b'{"v": ' + b"[" * depth + b"]" * depth + b"}"


def test_inputs_are_bounded_on_a_real_master(tmp_path: Path) -> None:
    import grpc
    from distributed_cluster import Cluster

    from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
    from sloth_daemon.gen.sloth.v1 import master_pb2_grpc as mgrpc

    cluster = Cluster(tmp_path)
    try:
        address = cluster.start_master()
        cluster.start_agent("alpha")
        stub = mgrpc.MasterServiceStub(grpc.insecure_channel(address))
        source = "task('t'):command(function() return true end)\n"
        big = b'{"v": [' + b",".join([b"[[1,[2,[3]]]]"] * 560_000) + b"]}"
        assert 7_500_000 < len(big) < 8_300_000
        for field, data, words in (
            ("values_json", big, "over the 4194304 byte limit"),
            ("params_json", big, "over the 4194304 byte limit"),
            ("values_json", _nested(100_000), "nested deeper than 64 levels"),
            ("params_json", _nested(100), "nested deeper than 64 levels"),
            ("values_json", b'{"v": ' + b"[" * 60 + b"[1]" * 1 + b"]" * 60 + b"}", None),
        ):
            request = mpb.SubmitRunRequest(path="x.sloth", source=source, **{field: data})
            if words is None:
                stub.SubmitRun(request, timeout=30)
                continue
            with pytest.raises(grpc.RpcError) as caught:
                stub.SubmitRun(request, timeout=30)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
            assert words in caught.value.details()
        # C-level loops in a file's top-level code are bounded while the master loads it.
        with pytest.raises(grpc.RpcError) as caught:
            stub.SubmitRun(mpb.SubmitRunRequest(path="c.sloth", source=C_LOOP_AT_LOAD), timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "c.sloth:1: table.move: a range of" in caught.value.details()
        assert cluster.master_proc is not None and cluster.master_proc.poll() is None
        path = cluster.write("ok.sloth", source)
        done = cluster.cli("run", str(path), "--master", address, "-o", "json", timeout=60)
        assert done.returncode == 0, done.stderr + cluster.logs()
    finally:
        cluster.close()


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_values_files_are_bounded_locally_and_through_a_master(tmp_path: Path) -> None:
    import time

    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path)
    try:
        address = cluster.start_master()
        cluster.start_agent("alpha")
        path = cluster.write("ok.sloth", "task('t'):command(function() return true, values.name end)\n")
        bomb = cluster.write("bomb.yaml", _alias_bomb())
        assert len(bomb.read_text()) < 1024
        noise = tmp_path / "noise.yaml"
        noise.write_bytes(bytes(range(128, 256)) * 20)
        deep = cluster.write("deep.yaml", "x: " + "[" * 10_000 + "]" * 10_000 + "\n")
        cases = [(bomb, "expands to more than 200000 values"), (noise, "is not UTF-8 text")]
        cases.append((deep, "nested deeper than 64 levels"))
        for where in ([], ["--master", address]):
            for file, words in cases:
                started = time.monotonic()
                done = cluster.cli("run", str(path), "--values", str(file), *where, timeout=60)
                assert done.returncode == 2, (file, where, done.stdout, done.stderr)
                assert str(file) in done.stderr and words in done.stderr, done.stderr
                assert "internal error" not in done.stderr and "Traceback" not in done.stderr
                assert time.monotonic() - started < 20
        good = cluster.write("good.yaml", "name: fine\n")
        done = cluster.cli("run", str(path), "--values", str(good), "--master", address, "-o", "json")
        assert done.returncode == 0, done.stderr + cluster.logs()
        assert json.loads(done.stdout)["tasks"][0]["message"] == "fine"
        assert cluster.master_proc is not None and cluster.master_proc.poll() is None
    finally:
        cluster.close()


def test_master_host_tasks_are_bounded_and_end(tmp_path: Path) -> None:
    """No agent: the tasks run on the master's host (in a child process). A huge exec output
    is cut, a Lua call held in C ends timed out (or cancelled), and the master goes on serving."""
    import time

    from distributed_cluster import Cluster, wait_for

    cluster = Cluster(tmp_path)
    try:
        os.environ["SLOTH_LUA_STUCK_GRACE"] = "0.5"
        try:
            address = cluster.start_master()
        finally:
            del os.environ["SLOTH_LUA_STUCK_GRACE"]
        big = cluster.write(
            "big.sloth",
            "task('big'):command(function()\n"
            "  local r = exec.run(\"head -c 300000000 /dev/zero | tr '\\\\0' x\")\n"
            "  return true, 'm', { n = #r.stdout, truncated = r.truncated }\n"
            "end)\n",
        )
        done = cluster.cli("run", str(big), "--master", address, "-o", "json", timeout=120)
        assert done.returncode == 0, done.stderr + cluster.logs()
        assert json.loads(done.stdout)["tasks"][0]["outputs"] == {"n": 16 * 1024 * 1024, "truncated": True}
        stuck = cluster.write("stuck.sloth", STUCK)
        done = cluster.cli("run", str(stuck), "--master", address, "-o", "json", timeout=60)
        task = json.loads(done.stdout)["tasks"][0]
        assert task["status"] == "timed_out", (task, cluster.logs())
        # No timeout at all: a cancel ends it the same way.
        client = cluster.client()
        endless = STUCK.replace(':timeout("1s")', "").replace(
            "return s:find(p, 1, true)", "for i = 1, 1000 do s:find(p, 1, true) end"
        )
        run_id = client.submit_run("endless.sloth", endless)[0].run_id
        wait_for(lambda: client.get_run(run_id)["tasks"], 30, "the task to start")
        time.sleep(0.3)  # inside the C call by now (it lasts seconds)
        client.cancel_run(run_id, "enough")
        wait_for(lambda: client.get_run(run_id)["status"] == "cancelled", 30, "the run to end cancelled")
        assert client.get_run(run_id)["tasks"][0]["status"] == "cancelled"
        assert cluster.master_proc is not None and cluster.master_proc.poll() is None
        ok = cluster.write("ok.sloth", "task('ok'):command(function() return true end)\n")
        assert cluster.cli("run", str(ok), "--master", address).returncode == 0
    finally:
        cluster.close()


REPLACED_GLOBALS = """
coroutine = nil
pcall = nil
error = nil
setmetatable = nil
string.rep = function() return "hijacked" end
local a = task("a")@WHERE:command(function()
  local r = exec.run("echo hi")
  return true, "m", { out = r.stdout, n = #r }
end)
workflow.define("w"):tasks({ a })
"""
SHARED_COROUTINE = """
local gen = coroutine.wrap(function()
  while true do
    local r = exec.run("sleep 0.5; echo A")
    coroutine.yield(r.stdout)
  end
end)
local a = task("a")@WHERE:command(function() return true, "m", { got = gen() } end)
local b = task("b")@WHERE:command(function() time.sleep(0.1) return true, "m", { got = gen() } end)
workflow.define("w"):tasks({ a, b }):config({ max_parallel_tasks = 2 })
"""


@pytest.mark.parametrize("where", ["local", "agent", "master"])
def test_lua_semantics_hold_locally_on_an_agent_and_on_the_master(tmp_path: Path, where: str) -> None:
    from distributed_cluster import Cluster

    cluster = Cluster(tmp_path)
    try:
        via: list[str] = []
        placement = ""
        if where != "local":
            via = ["--master", cluster.start_master()]
        if where == "agent":
            cluster.start_agent("alpha")
            placement = ':delegate_to("alpha")'
        replaced = cluster.write("replaced.sloth", REPLACED_GLOBALS.replace("@WHERE", placement))
        done = cluster.cli("run", str(replaced), *via, "-o", "json", timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()
        task = json.loads(done.stdout)["tasks"][0]
        assert task["outputs"] == {"out": "hi\n", "n": 3}
        shared = cluster.write("shared.sloth", SHARED_COROUTINE.replace("@WHERE", placement))
        done = cluster.cli("run", str(shared), *via, "-o", "json", timeout=60)
        tasks = {t["name"]: t for t in json.loads(done.stdout)["tasks"]}
        assert tasks["a"]["status"] == "success" and tasks["a"]["outputs"] == {"got": "A\n"}, tasks
        if where == "master":
            # Tasks on the master's host run each in a process of its own (issue 15): they share
            # no runtime, so each has its own generator and nothing to interfere with.
            assert tasks["b"]["status"] == "success" and tasks["b"]["outputs"] == {"got": "A\n"}, tasks
            assert {tasks["a"]["agent"], tasks["b"]["agent"]} == {"master"}
        else:
            assert tasks["b"]["status"] == "failed"
            assert "cannot resume a coroutine that is waiting in a blocking call" in tasks["b"]["error"]
        if where != "local":
            assert cluster.master_proc is not None and cluster.master_proc.poll() is None
        if where == "agent":
            assert {tasks["a"]["agent"], tasks["b"]["agent"]} == {"alpha"}
    finally:
        cluster.close()
