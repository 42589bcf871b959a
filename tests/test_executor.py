"""The DAG executor, in-process: ordering, parallelism, retries, timeouts, conditions, hooks."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from procs import gone

from sloth_engine.executor.results import RunEvent, RunResult
from sloth_engine.executor.retry import backoff_delay
from sloth_engine.run import RunRequest, WorkflowRun, load
from sloth_engine.spec import RetryPolicy, RunStatus


def run_file(
    tmp_path: Path, source: str, *, workflow: str | None = None, max_parallel: int | None = None
) -> tuple[RunResult, list[RunEvent]]:
    path = tmp_path / "wf.sloth"
    path.write_text(source)
    events: list[RunEvent] = []
    request = RunRequest(
        str(path),
        home=tmp_path / "home",
        cwd=tmp_path,
        max_parallel=max_parallel,
        listeners=[events.append],
        retry_delay=0.01,
    )
    loaded = load(request)
    spec = loaded.spec.get(workflow) if workflow else loaded.spec.workflows[0]
    assert spec is not None
    result = asyncio.run(WorkflowRun(request, loaded, spec).execute())
    return result, events


def statuses(result: RunResult) -> dict[str, str]:
    return {t.name: t.status.value for t in result.tasks}


def test_fan_out_join_passes_outputs(tmp_path: Path) -> None:
    result, events = run_file(
        tmp_path,
        """
local root = task("root"):command(function() return true, "root", { n = 1 } end)
local left = task("left"):depends_on("root"):command(function(this, params, input)
  return true, "l", { n = input.root.n + 10 } end)
local right = task("right"):depends_on("root"):command(function(this, params, input)
  return true, "r", { n = input.root.n + 20 } end)
local join = task("join"):depends_on({ left, right }):command(function(this, params, input)
  return true, "sum", { total = input.left.n + input.right.n, me = this:name(), wf = params.group_name } end)
workflow.define("fan"):tasks({ root, left, right, join })
""",
    )
    assert result.status is RunStatus.SUCCESS
    join = result.tasks[-1]
    assert join.outputs == {"total": 32, "me": "join", "wf": "fan"}
    order = [e.task for e in events if e.kind == "task.completed"]
    assert order[0] == "root" and order[-1] == "join"


def test_max_parallel_is_respected(tmp_path: Path) -> None:
    tasks = "\n".join(f'local t{i} = task("t{i}"):command("sleep 0.05")' for i in range(8))
    names = ", ".join(f"t{i}" for i in range(8))
    result, events = run_file(tmp_path, f'{tasks}\nworkflow.define("p"):tasks({{ {names} }})', max_parallel=3)
    assert result.status is RunStatus.SUCCESS
    running, peak = 0, 0
    for event in events:
        if event.kind == "task.started":
            running += 1
            peak = max(peak, running)
        elif event.kind == "task.completed":
            running -= 1
    assert peak == 3


def test_failure_skips_dependents_but_not_independent_branches(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
local bad = task("bad"):command("exit 3")
local child = task("child"):depends_on("bad"):command("true")
local grandchild = task("grandchild"):depends_on("child"):command("true")
local other = task("other"):command("true")
workflow.define("w"):tasks({ bad, child, grandchild, other })
""",
    )
    assert result.status is RunStatus.FAILED
    assert statuses(result) == {
        "bad": "failed",
        "child": "skipped",
        "grandchild": "skipped",
        "other": "success",
    }
    assert result.tasks[0].error.startswith("exit code 3")
    assert "bad" in result.tasks[2].message


def test_retries_count_attempts_and_then_succeed(tmp_path: Path) -> None:
    marker = tmp_path / "count"
    result, events = run_file(
        tmp_path,
        f"""
local flaky = task("flaky"):retries(3, "fixed"):command(function()
  local n = tonumber(fs.read("{marker}") or "0") + 1
  fs.write("{marker}", tostring(n))
  if n < 3 then return false, "not yet " .. n end
  return true, "done on " .. n
end)
local never = task("never"):retries(2):command("false")
workflow.define("r"):tasks({{ flaky, never }})
""",
    )
    flaky, never = result.tasks
    assert flaky.status.value == "success" and flaky.attempts == 3 and flaky.message == "done on 3"
    assert never.status.value == "failed" and never.attempts == 3
    retrying = [e for e in events if e.kind == "task.retrying" and e.task == "flaky"]
    assert len(retrying) == 2 and "not yet 1" in retrying[0].data["message"]


def test_backoff_strategies() -> None:
    rand = random.Random(1)
    fixed = RetryPolicy(retries=3, strategy="fixed", base_delay=1.0, jitter=0)
    linear = RetryPolicy(retries=3, strategy="linear", base_delay=1.0, jitter=0)
    expo = RetryPolicy(retries=9, strategy="exponential", base_delay=1.0, max_delay=10, jitter=0)
    assert [backoff_delay(fixed, n) for n in (1, 2, 3)] == [1, 1, 1]
    assert [backoff_delay(linear, n) for n in (1, 2, 3)] == [1, 2, 3]
    assert [backoff_delay(expo, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]
    jittered = RetryPolicy(retries=1, strategy="fixed", base_delay=1.0, jitter=0.1)
    values = {backoff_delay(jittered, 1, rand) for _ in range(20)}
    assert all(0.9 <= v <= 1.1 for v in values) and len(values) > 1


def test_timeouts_kill_the_process_group_and_stop_lua_loops(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result, _ = run_file(
        tmp_path,
        f"""
local shell = task("shell"):timeout("300ms"):command("sleep 30 & echo $! > {pidfile}; wait")
local lua = task("lua"):timeout("300ms"):command(function() while true do end end)
local sleeper = task("sleeper"):timeout("300ms"):command(function() exec.run("sleep 30") end)
local handled = task("handled"):timeout("100ms"):command("sleep 5")
  :on_timeout(function(this, params, info) fs.write("{tmp_path}/timeout.txt", info.error) end)
workflow.define("t"):tasks({{ shell, lua, sleeper, handled }})
""",
    )
    assert time.monotonic() - started < 5
    assert statuses(result) == {
        "shell": "timed_out",
        "lua": "timed_out",
        "sleeper": "timed_out",
        "handled": "timed_out",
    }
    assert gone(int(pidfile.read_text()))
    assert "timed out" in (tmp_path / "timeout.txt").read_text()


def test_conditions(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
local skipped = task("skipped"):run_if("false"):command("exit 1")
local after_skip = task("after_skip"):depends_on("skipped"):command("true")
local fn_skip = task("fn_skip"):run_if(function() return false end):command("exit 1")
local aborted = task("aborted"):abort_if(function() return true end):command("true")
local after_abort = task("after_abort"):depends_on("aborted"):command("true")
local runs = task("runs"):run_if("test -d /"):command("true")
workflow.define("c"):tasks({ skipped, after_skip, fn_skip, aborted, after_abort, runs })
""",
    )
    assert statuses(result) == {
        "skipped": "skipped",
        "after_skip": "success",
        "fn_skip": "skipped",
        "aborted": "failed",
        "after_abort": "skipped",
        "runs": "success",
    }


def test_hooks_and_handlers_run_in_order(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    result, _ = run_file(
        tmp_path,
        f"""
local function note(s) fs.append("{log}", s .. "\\n") end
local ok = task("ok")
  :pre_hook(function() note("pre") end)
  :command(function() note("run"); return true, "fine", {{ x = 1 }} end)
  :post_hook(function(this, params, out) note("post " .. out.x) end)
  :on_success(function(this, params, out) note("success " .. out.x) end)
local bad = task("bad"):depends_on("ok"):command(function() error("kaput") end)
  :on_failure(function(this, params, info) note("failure " .. info.task_name) end)
workflow.define("h"):tasks({{ ok, bad }})
  :on_start(function() note("start") end)
  :on_task_start(function(name) note("task " .. name) end)
  :on_complete(function(success, results) note("complete " .. tostring(success) .. " " .. results.ok.status) end)
""",
    )
    assert result.status is RunStatus.FAILED
    assert "kaput" in result.tasks[1].error and "wf.sloth:" in result.tasks[1].error
    assert log.read_text().splitlines() == [
        "start",
        "task ok",
        "pre",
        "run",
        "success 1",
        "post 1",
        "task bad",
        "failure bad",
        "complete false success",
    ]


def test_artifacts_flow_between_tasks(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "d").mkdir()
    result, _ = run_file(
        tmp_path,
        f"""
local build = task("build"):workdir("{tmp_path}/b"):command("mkdir -p out && echo binary > out/app.bin")
  :artifacts({{ "out/*.bin" }})
local deploy = task("deploy"):depends_on("build"):workdir("{tmp_path}/d"):consumes({{ "out/app.bin" }})
  :command("cat out/app.bin")
local missing = task("missing"):consumes("nothing.txt"):command("true")
workflow.define("a"):tasks({{ build, deploy, missing }})
""",
    )
    assert statuses(result) == {"build": "success", "deploy": "success", "missing": "failed"}
    assert (tmp_path / "d" / "out" / "app.bin").read_text() == "binary\n"
    assert result.tasks[1].outputs["stdout"] == "binary"
    assert "nothing.txt" in result.tasks[2].error


def test_unchanged_status_and_plain_returns(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
local same = task("same"):command(function() return true, "already there", { changed = false } end)
local nothing = task("nothing"):command(function() end)
local tbl = task("tbl"):command(function() return { a = 1 } end)
local noop = task("noop")
workflow.define("u"):tasks({ same, nothing, tbl, noop })
""",
    )
    assert statuses(result) == {
        "same": "unchanged",
        "nothing": "success",
        "tbl": "success",
        "noop": "success",
    }
    assert result.status is RunStatus.SUCCESS
    assert result.tasks[2].outputs == {"a": 1}


def test_memory_bomb_fails_the_task_and_the_engine_goes_on(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
local bomb = task("bomb"):command(function()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
end)
local fine = task("fine"):depends_on("bomb"):command("true")
local other = task("other"):command(function() return true, "still here" end)
workflow.define("m"):tasks({ bomb, fine, other })
""",
    )
    assert statuses(result) == {"bomb": "failed", "fine": "skipped", "other": "success"}
    assert "memory limit" in result.tasks[0].error


def test_workflow_timeout_stops_everything(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
local slow = task("slow"):command("sleep 20")
local later = task("later"):depends_on("slow"):command("true")
workflow.define("wt"):tasks({ slow, later }):config({ timeout = "300ms" })
""",
    )
    assert result.status is RunStatus.FAILED
    assert statuses(result) == {"slow": "timed_out", "later": "cancelled"}
    assert "timed out" in result.error


def test_cancel_kills_running_tasks(tmp_path: Path) -> None:
    path = tmp_path / "wf.sloth"
    pidfile = tmp_path / "pid"
    path.write_text(
        f'local s = task("s"):command("sleep 30 & echo $! > {pidfile}; wait")\n'
        'local n = task("n"):depends_on("s"):command("true")\n'
        'workflow.define("c"):tasks({ s, n })\n'
    )
    request = RunRequest(str(path), home=tmp_path / "home", cwd=tmp_path)
    loaded = load(request)
    run = WorkflowRun(request, loaded, loaded.spec.workflows[0])

    async def go() -> RunResult:
        task = asyncio.create_task(run.execute())
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.01)
        run.cancel("interrupted")
        return await task

    result = asyncio.run(go())
    assert result.status is RunStatus.CANCELLED
    assert statuses(result) == {"s": "cancelled", "n": "cancelled"}
    assert gone(int(pidfile.read_text()))


def test_legacy_task_definitions_run(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
TaskDefinitions = { legacy = { tasks = {
  { name = "first", command = function(params, deps) return true, "first", { v = params.task_name } end },
  { name = "second", depends_on = "first", command = function(params, deps)
      return true, "got " .. deps.first.v end },
} } }
""",
    )
    assert result.tasks[1].message == "got first"


def test_blocking_calls_of_lua_tasks_overlap(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    result, _ = run_file(
        tmp_path,
        f"""
local function waiter(name, other)
  return task(name):command(function()
    fs.write("{marks}/" .. name, "started")
    -- wait (in exec.run, a blocking call) until the other task has started too
    local r = exec.run("for i in $(seq 100); do test -f {marks}/" .. other .. " && exit 0; sleep 0.05; done; exit 1")
    return r.success, r.success and "saw " .. other or "never saw " .. other
  end):timeout("10s")
end
workflow.define("both"):tasks({{ waiter("a", "b"), waiter("b", "a") }})
""",
        max_parallel=2,
    )
    assert statuses(result) == {"a": "success", "b": "success"}


def test_goroutines_of_interleaved_tasks_stay_apart(tmp_path: Path) -> None:
    result, _ = run_file(
        tmp_path,
        """
local function fan(name, base)
  return task(name):command(function()
    local ch = goroutine.channel(10)
    local wg = goroutine.wait_group()
    for i = 1, 3 do
      wg:add(1)
      goroutine.spawn(function()
        goroutine.sleep(20 * i)
        ch:send(base + i)
        wg:done()
      end)
    end
    exec.run("sleep 0.05")   -- a blocking call at task level: the other task runs meanwhile
    wg:wait()
    local sum = 0
    for _ = 1, 3 do sum = sum + ch:receive() end
    return true, "sum", { sum = sum }
  end):timeout("10s")
end
workflow.define("g"):tasks({ fan("x", 100), fan("y", 200) })
""",
        max_parallel=2,
    )
    assert statuses(result) == {"x": "success", "y": "success"}
    assert [t.outputs["sum"] for t in result.tasks] == [306, 606]


@pytest.mark.parametrize(("answer", "kept"), [("true", False), ("false", True)])
def test_clean_workdir_function_decides(tmp_path: Path, answer: str, kept: bool) -> None:
    work = tmp_path / "work"
    result, _ = run_file(
        tmp_path,
        f"""
workflow.define("w", {{
  workdir = "{work}", create_workdir_before_run = true,
  clean_workdir_after_run = function(result) return result.success and {answer} end,
  tasks = {{ {{ name = "a", command = "touch marker" }} }},
}})
""",
    )
    assert result.status is RunStatus.SUCCESS
    assert (work / "marker").exists() is kept


def test_check_mode_runs_no_command(tmp_path: Path) -> None:
    path = tmp_path / "wf.sloth"
    marker = tmp_path / "touched"
    path.write_text(
        f'local a = task("a"):command("touch {marker}"):post_hook("touch {marker}.post")\n'
        f'local b = task("b"):command(function() local r = exec.run("touch {marker}.lua"); return r.success end)\n'
        'workflow.define("w"):tasks({ a, b })\n'
    )
    request = RunRequest(str(path), home=tmp_path / "home", cwd=tmp_path, check_mode=True)
    loaded = load(request)
    result = asyncio.run(WorkflowRun(request, loaded, loaded.spec.workflows[0]).execute())
    assert statuses(result) == {"a": "unchanged", "b": "success"}
    assert "would run" in result.tasks[0].message
    assert list(tmp_path.glob("touched*")) == []


def test_blocking_calls_inside_goroutines_let_other_tasks_run(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    result, _ = run_file(
        tmp_path,
        f"""
local function waiter(name, other)
  return task(name):command(function()
    local wg = goroutine.wait_group()
    local seen = false
    wg:add(1)
    goroutine.spawn(function()
      fs.write("{marks}/" .. name, "started")
      -- blocks until the other task's goroutine has written its mark
      local r = exec.run("for i in $(seq 100); do test -f {marks}/" .. other .. " && exit 0; sleep 0.05; done; exit 1")
      seen = r.success
      wg:done()
    end)
    wg:wait()
    return seen, seen and "saw " .. other or "never saw " .. other
  end):timeout("10s")
end
workflow.define("both"):tasks({{ waiter("a", "b"), waiter("b", "a") }})
""",
        max_parallel=2,
    )
    assert statuses(result) == {"a": "success", "b": "success"}


def test_lua_on_its_own_thread_does_not_hold_the_event_loop(tmp_path: Path) -> None:
    """lua_thread (masters, agents): a task computing in Lua leaves the loop free meanwhile."""
    path = tmp_path / "wf.sloth"
    flag = tmp_path / "shell-done"
    path.write_text(
        f"""
local busy = task("busy"):timeout("20s"):command(function()
  -- compute (no blocking call) until the shell task, started at the same time, has finished
  local n = 0
  while not fs.exists("{flag}") do
    for i = 1, 100000 do n = n + i end
  end
  return true, "saw the shell task finish"
end)
local shell = task("shell"):command("touch {flag}")
workflow.define("w"):tasks({{ busy, shell }})
"""
    )
    request = RunRequest(str(path), home=tmp_path / "home", cwd=tmp_path, lua_thread=True, max_parallel=2)
    loaded = load(request)
    result = asyncio.run(WorkflowRun(request, loaded, loaded.spec.workflows[0]).execute())
    assert statuses(result) == {"busy": "success", "shell": "success"}
