"""`goroutine`: Go-style concurrency, cooperative, on Lua coroutines.

Goroutines are coroutines run by a small scheduler written in Lua (below). `spawn` starts the
goroutine at once and runs it until it first blocks; a blocking operation (channel send or
receive, `wg:wait`, `mutex:lock`, `sleep`, `await`, ...) inside a goroutine yields to the
scheduler, and the same operation in ordinary code drives the scheduler until it can go on.
Only one goroutine runs at a time, so a blocking Python call (`exec.run`) holds them all;
`goroutine.sleep(ms)` with nothing else to run really sleeps (interruptibly). When everything
is blocked and nothing sleeps, the waiting call fails with "goroutine deadlock: ...".

Functions: `spawn(fn, ...)`, `spawn_many(n, fn(i))` (both return handles), `async(fn, ...)`,
`await(h)` -> `true, results...` or `false, error` (as in the original; it does not raise),
`await_all(hs)` -> `{ {success = true, values = {...}}, {success = false, error = "..."} }`,
`timeout(ms, fn, ...)` -> `true, results...` or `false, "timeout exceeded"`, `sleep(ms)`,
`yield()`, `wait_group()` {add done wait}, `channel([cap])` {send receive/recv try_send
try_receive close len cap is_closed range}, `select(cases)` (cases `{channel = ch, receive =
true, handler = fn(v, ok)}`, `{channel = ch, send = v, handler = fn}`, `{default = true,
handler = fn}`; returns the chosen case's index and its handler's results),
`select_timeout(ms, cases)` -> `timed_out, index`, `mutex()` {lock unlock try_lock},
`rwmutex()` {+ rlock runlock}, `semaphore(n)` {acquire release try_acquire available
capacity}, `atomic_int(v)` {get/load set/store add incr decr swap cas/compare_and_swap},
`once()` {call / ["do"]}, `context()`, `with_timeout(ms)` (contexts: cancel done/is_cancelled
err wait deadline with_timeout with_cancel with_deadline), `pool_create(name, {workers})`,
`pool_submit(name, fn, ...)` (nil, "pool queue is full" once workers x 2 tasks wait, as the
original), `pool_wait`, `pool_stats`, `pool_close`, `channel_len(ch)`, `channel_cap(ch)`,
`cond()` {wait signal broadcast get_mutex}, `pipeline(in, {{workers = n, fn = f}, ...})`,
`fan_out(in, n)`, `fan_in({ch, ...})` (each returns channels of capacity 10, closed when their
inputs are), rwmutex `try_lock`/`try_rlock`. Methods work with `:`
and with `.`. A spawned goroutine's error goes to the task log; an async one's to `await`.
Goroutines left when a task ends are dropped: the next task on this runtime starts with none.
The synchronisation objects (channels to pools) are in goroutine_sync.py.
"""

from __future__ import annotations

import time

from sloth_engine.lua.sandbox import Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.goroutine_flows import FLOWS_LUA
from sloth_engine.modules.goroutine_sync import SYNC_LUA
from sloth_engine.modules.time_mod import sleep_guarded

_SCHEDULER = r"""
local nap, stopped, report, clock, wall, scope_epoch, co_resume = ...
local co_create, co_status = coroutine.create, coroutine.status
local co_yield, co_running, co_close = coroutine.yield, coroutine.running, coroutine.close
local pack, unpack = table.pack, table.unpack
local pcall, error, type, tostring, tonumber = pcall, error, type, tostring, tonumber
local ipairs, pairs, select, rawequal = ipairs, pairs, select, rawequal
local setmetatable, getmetatable, floor, sort = setmetatable, getmetatable, math.floor, table.sort

local GoError = {}
local function fail(msg) error(setmetatable({ msg = msg }, GoError), 0) end

-- Public functions: errors of the module surface at the caller's line; others pass as they are.
local function api(fn, owner)
  return function(...)
    local r
    if owner ~= nil and rawequal((...), owner) then r = pack(pcall(fn, select(2, ...)))
    else r = pack(pcall(fn, ...)) end
    if r[1] then return unpack(r, 2, r.n) end
    if getmetatable(r[2]) == GoError then error(r[2].msg, 2) end
    error(r[2], 0)
  end
end
local function object(methods)
  local obj = {}
  for name, fn in pairs(methods) do obj[name] = api(fn, obj) end
  return obj
end

local procs, by_co, next_id, last_failure = {}, setmetatable({}, { __mode = "k" }), 0, nil
local timers = setmetatable({}, { __mode = "k" })  -- waiters on a context deadline

local function finish(p, ok, ...)
  p.done = true
  by_co[p.co] = nil
  if ok then p.results = pack(...) return end
  local err = ...
  p.err = getmetatable(err) == GoError and err.msg or tostring(err)
  local why = stopped()
  if why then fail(why) end
  last_failure = p.err
  if not p.handled then report(p.id, p.err) end
end

local enter_task
local function step(p)
  p.cond, p.wake, p.running = nil, nil, true
  -- A blocking call of the goroutine (exec.run, ...) is passed up to the task, which waits
  -- for it on a thread while other tasks run; they may switch worlds meanwhile.
  local r = pack(co_resume(p.co))
  enter_task()
  p.running = false
  if co_status(p.co) == "dead" then finish(p, unpack(r, 1, r.n)) end
end

-- Goroutines belong to the call (a task's command, a hook) that started them. Calls of
-- several tasks interleave in one runtime (a task waiting on a process lets others run), so
-- each call has its own world of goroutines; switching calls parks one world and resumes
-- the other. A world whose goroutines have all ended is dropped.
local epoch, resets, worlds = nil, {}, {}
enter_task = function()
  local now_epoch = scope_epoch()
  if now_epoch == epoch then return end
  if epoch ~= nil then
    local live = false
    for _, p in ipairs(procs) do
      if not p.done then live = true break end
    end
    worlds[epoch] = live and { procs = procs, last_failure = last_failure, extra = {} } or nil
    if live then
      for _, reset in ipairs(resets) do reset(worlds[epoch].extra, true) end
    end
  end
  local world = worlds[now_epoch]
  worlds[now_epoch] = nil
  procs, last_failure, epoch = world and world.procs or {}, world and world.last_failure, now_epoch
  for _, reset in ipairs(resets) do reset(world and world.extra or {}, false) end
end

local function start(fn, args, handled)
  enter_task()
  if type(fn) ~= "function" then fail("goroutine: expected a function, got " .. type(fn)) end
  next_id = next_id + 1
  local p = { id = next_id, handled = handled }
  p.co = co_create(function() return fn(unpack(args, 1, args.n)) end)
  by_co[p.co] = p
  procs[#procs + 1] = p
  step(p)
  return p
end

local function ready(p, t)
  if p.cond then
    if p.cond() then return true end
  elseif not p.wake then
    return true
  end
  return p.wake ~= nil and t >= p.wake
end

-- One pass over the goroutines: returns whether any ran and the earliest wake-up time.
local function round(soonest)
  enter_task()
  local t, ran, due = clock(), false, {}
  for i, p in ipairs(procs) do
    if not p.done and not p.running then
      if ready(p, t) then due[#due + 1] = { p = p, at = p.wake or -1, i = i }
      elseif p.wake and (not soonest or p.wake < soonest) then soonest = p.wake end
    end
  end
  -- Sleepers wake in the order their times came due, whatever the machine's load.
  sort(due, function(a, b) if a.at ~= b.at then return a.at < b.at end return a.i < b.i end)
  for _, d in ipairs(due) do
    local p = d.p
    if not p.done and not p.running and ready(p, clock()) then step(p); ran = true end
  end
  local live = {}
  for _, p in ipairs(procs) do if not p.done then live[#live + 1] = p end end
  procs = live
  return ran, soonest
end

local function deadlock()
  local stuck = 0
  for _, p in ipairs(procs) do
    if not p.done and not p.running then
      stuck, p.done, p.err = stuck + 1, true, "goroutine deadlock"
      by_co[p.co] = nil
    end
  end
  local msg = "goroutine deadlock: all goroutines are asleep or blocked (" .. stuck .. " blocked)"
  if last_failure then msg = msg .. "; a goroutine failed earlier: " .. last_failure end
  fail(msg)
end

local function drive(cond, wake)
  while true do
    if cond and cond() then return end
    if wake and clock() >= wake then return end
    local ran, soonest = round(wake)
    if not ran and not (cond and cond()) then
      for _, at in pairs(timers) do if not soonest or at < soonest then soonest = at end end
      if not soonest then deadlock() end
      local why = nap(soonest - clock())
      -- nap lets other tasks run meanwhile; one of them may have switched worlds.
      enter_task()
      if why then fail(why) end
    end
  end
end

-- Wait for cond (or the wake time): yield when in a goroutine, else run the others.
local function block(cond, wake)
  local p = by_co[co_running()]
  if p and p.running then p.cond, p.wake = cond, wake; co_yield()
  else drive(cond, wake) end
end
local function wait_until(cond) while not cond() do block(cond) end end

local M = {}
local handles = setmetatable({}, { __mode = "k" })

local function proc_of(h)
  local p = handles[h]
  if not p then fail("goroutine: expected a handle from goroutine.async or spawn") end
  p.handled = true
  wait_until(function() return p.done end)
  return p
end
local function await(h)
  local p = proc_of(h)
  if p.err then return false, p.err end
  return true, unpack(p.results, 1, p.results.n)
end
local function handle_for(p)
  local h = { id = p.id }
  handles[h] = p
  h.await = api(function() return await(h) end, h)
  h.is_done = api(function() return p.done == true end, h)
  return h
end

M.spawn = api(function(fn, ...) return handle_for(start(fn, pack(...), false)) end)
M.go = M.spawn
M.async = api(function(fn, ...) return handle_for(start(fn, pack(...), true)) end)
M.spawn_many = api(function(n, fn)
  local hs = {}
  for i = 1, floor(tonumber(n) or 0) do hs[i] = handle_for(start(fn, pack(i), false)) end
  return hs
end)
M.await = api(await)
M.await_all = api(function(hs)
  local out = {}
  for i, h in ipairs(hs or {}) do
    local p = proc_of(h)
    if p.err then out[i] = { success = false, error = p.err }
    else out[i] = { success = true, values = { unpack(p.results, 1, p.results.n) } } end
  end
  return out
end)
M.sleep = api(function(ms) block(nil, clock() + (tonumber(ms) or 0) / 1000) end)
M.yield = api(function()
  local p = by_co[co_running()]
  if p and p.running then co_yield() else round(nil) end
end)
M.timeout = api(function(ms, fn, ...)
  local p, wake = start(fn, pack(...), true), clock() + (tonumber(ms) or 0) / 1000
  while not p.done and clock() < wake do block(function() return p.done end, wake) end
  if not p.done then
    p.done, p.err, by_co[p.co] = true, "timeout exceeded", nil
    co_close(p.co)
  end
  if p.err then return false, p.err end
  return true, unpack(p.results, 1, p.results.n)
end)

M.wait_group = api(function()
  local count = 0
  local function add(n)
    count = count + (tonumber(n) or 1)
    if count < 0 then fail("negative wait group counter") end
  end
  return object { add = add, done = function() add(-1) end, count = function() return count end,
    wait = function() wait_until(function() return count <= 0 end) end }
end)

local kernel = { api = api, object = object, fail = fail, block = block, enter = enter_task,
  wait_until = wait_until, start = start, report = report, clock = clock, wall = wall,
  timers = timers, resets = resets }
return M, kernel
"""


class _ScopeEpoch:
    """The serial number of the call the sandbox works for now: a new number, a new call."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def __call__(self) -> int:
        return self.sandbox.scope.serial


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def nap(seconds: float) -> str | None:
        return sleep_guarded(sandbox, float(seconds))

    def report(who: object, error: str) -> None:
        sandbox.scope.log("stderr", f"[ERROR] goroutine {who} failed: {error}")

    module, kernel = sandbox.run_lua(
        _SCHEDULER,
        "goroutine",
        sandbox.function(nap, blocking=True),
        sandbox.function(sandbox.check_guard),
        sandbox.function(report),
        sandbox.function(time.monotonic),
        sandbox.function(time.time),
        sandbox.function(_ScopeEpoch(sandbox)),
        sandbox.pristine["coroutine"]["resume"],
    )
    sandbox.run_lua(SYNC_LUA, "goroutine", module, kernel)
    sandbox.run_lua(FLOWS_LUA, "goroutine", module, kernel)
    sandbox.globals()["goroutine"] = module
