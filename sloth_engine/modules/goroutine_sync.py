"""Lua source of the `goroutine` module's synchronisation objects, run against its scheduler.

Kept apart from goroutine_mod.py (the scheduler, spawn/async/await, wait groups) for size:
channels and select, mutexes, semaphores, atomic ints, once, contexts and worker pools.
Each blocking method waits through the scheduler kernel's `wait_until`/`block`, so it yields
inside a goroutine and drives the scheduler elsewhere.
"""

from __future__ import annotations

SYNC_LUA = r"""
local M, kernel = ...
local api, object, fail, block = kernel.api, kernel.object, kernel.fail, kernel.block
local wait_until, start, report, enter = kernel.wait_until, kernel.start, kernel.report, kernel.enter
local clock, wall, timers = kernel.clock, kernel.wall, kernel.timers
local pack, remove = table.pack, table.remove
local pcall, error, type, tostring, tonumber = pcall, error, type, tostring, tonumber
local ipairs, setmetatable, floor = ipairs, setmetatable, math.floor

local channels = setmetatable({}, { __mode = "k" })
local function chan(ch)
  local st = channels[ch]
  if not st then fail("goroutine: expected a channel") end
  return st
end
M.channel = api(function(cap)
  local st = { buf = {}, closed = false, receivers = 0, cap = floor(tonumber(cap) or 0) }
  local buf = st.buf
  function st.can_take() return #buf > 0 or st.closed end
  function st.can_put()
    if st.closed then return true end
    if st.cap > 0 then return #buf < st.cap end
    return st.receivers > #buf
  end
  function st.take()
    if #buf == 0 then return nil, false end
    local item = remove(buf, 1)
    item.taken = true
    return item.v, true
  end
  function st.send(v)
    if st.closed then fail("send on closed channel") end
    local item = { v = v }
    if st.cap > 0 then
      wait_until(function() return st.closed or #buf < st.cap end)
      if st.closed then fail("send on closed channel") end
      buf[#buf + 1] = item
      return true
    end
    buf[#buf + 1] = item
    wait_until(function() return item.taken or st.closed end)
    if not item.taken then
      for i, it in ipairs(buf) do if it == item then remove(buf, i) break end end
      fail("send on closed channel")
    end
    return true
  end
  function st.close()
    if st.closed then fail("close of closed channel") end
    st.closed = true
  end
  function st.receive()
    if not st.can_take() then
      st.receivers = st.receivers + 1
      local ok, err = pcall(wait_until, st.can_take)
      st.receivers = st.receivers - 1
      if not ok then error(err, 0) end
    end
    return st.take()
  end
  local ch = object {
    send = st.send, receive = st.receive, recv = st.receive,
    try_send = function(v)
      if st.closed then fail("send on closed channel") end
      if not st.can_put() then return false end
      buf[#buf + 1] = { v = v }
      return true
    end,
    try_receive = function() return st.take() end,
    close = st.close,
    len = function() return st.cap > 0 and #buf or 0 end,
    cap = function() return st.cap end,
    is_closed = function() return st.closed end,
    range = function(fn)
      while true do
        local v, ok = st.receive()
        if not ok then return end
        fn(v)
      end
    end,
  }
  channels[ch] = st
  return ch
end)
M.channel_send = api(function(ch, v) return chan(ch).send(v) end)
M.channel_receive = api(function(ch) return chan(ch).receive() end)
M.channel_close = api(function(ch) return chan(ch).close() end)
M.channel_len = api(function(ch) return ch.len() end)
M.channel_cap = api(function(ch) chan(ch); return ch.cap() end)

local function run_select(cases, wake)
  local ops, default = {}, nil
  for i, c in ipairs(cases or {}) do
    if c.default then default = c
    else
      local st = chan(c.channel or c.ch)
      ops[#ops + 1] = { i = i, st = st, send = c.send ~= nil, value = c.send, handler = c.handler }
    end
  end
  local function pick()
    for _, op in ipairs(ops) do
      if (op.send and op.st.can_put()) or (not op.send and op.st.can_take()) then return op end
    end
  end
  local op = pick()
  if not op and default then
    if default.handler then return 0, default.handler() end
    return 0
  end
  if not op then
    for _, o in ipairs(ops) do if not o.send then o.st.receivers = o.st.receivers + 1 end end
    local ok, err = pcall(function()
      repeat
        block(function() return pick() ~= nil end, wake)
        op = pick()
      until op or (wake and clock() >= wake)
    end)
    for _, o in ipairs(ops) do if not o.send then o.st.receivers = o.st.receivers - 1 end end
    if not ok then error(err, 0) end
    if not op then return nil end
  end
  if op.send then
    op.st.send(op.value)
    if op.handler then return op.i, op.handler() end
    return op.i
  end
  local v, ok = op.st.take()
  if op.handler then return op.i, op.handler(v, ok) end
  return op.i, v, ok
end
M.select = api(function(cases) return run_select(cases, nil) end)
M.select_timeout = api(function(ms, cases)
  local index = run_select(cases, clock() + (tonumber(ms) or 0) / 1000)
  if index == nil then return true end
  return false, index
end)

M.mutex = api(function()
  local locked = false
  return object {
    lock = function() wait_until(function() return not locked end); locked = true end,
    unlock = function()
      if not locked then fail("unlock of unlocked mutex") end
      locked = false
    end,
    try_lock = function() if locked then return false end; locked = true; return true end,
  }
end)
M.rwmutex = api(function()
  local writer, readers = false, 0
  return object {
    lock = function() wait_until(function() return not writer and readers == 0 end); writer = true end,
    unlock = function()
      if not writer then fail("unlock of unlocked mutex") end
      writer = false
    end,
    try_lock = function()
      if writer or readers > 0 then return false end
      writer = true
      return true
    end,
    rlock = function() wait_until(function() return not writer end); readers = readers + 1 end,
    try_rlock = function()
      if writer then return false end
      readers = readers + 1
      return true
    end,
    runlock = function()
      if readers == 0 then fail("runlock of unlocked mutex") end
      readers = readers - 1
    end,
  }
end)
M.semaphore = api(function(n)
  local size = floor(tonumber(n) or 1)
  local free = size
  return object {
    acquire = function(k)
      k = tonumber(k) or 1
      wait_until(function() return free >= k end)
      free = free - k
    end,
    try_acquire = function(k)
      k = tonumber(k) or 1
      if free < k then return false end
      free = free - k
      return true
    end,
    release = function(k)
      free = free + (tonumber(k) or 1)
      if free > size then fail("semaphore released more than acquired") end
    end,
    available = function() return free end,
    capacity = function() return size end,
  }
end)
M.atomic_int = api(function(v)
  local value = tonumber(v) or 0
  local function add(d) value = value + (tonumber(d) or 1); return value end
  local function cas(old, new)
    if value ~= old then return false end
    value = new
    return true
  end
  return object {
    get = function() return value end, load = function() return value end,
    set = function(x) value = tonumber(x) or 0 end, store = function(x) value = tonumber(x) or 0 end,
    add = add, incr = function() return add(1) end, increment = function() return add(1) end,
    decr = function() return add(-1) end, decrement = function() return add(-1) end,
    swap = function(x) local old = value; value = tonumber(x) or 0; return old end,
    cas = cas, compare_and_swap = cas,
  }
end)
M.once = api(function()
  local state = "new"
  local function run(fn, ...)
    if state ~= "new" then
      wait_until(function() return state == "done" end)
      return false
    end
    state = "running"
    local r = pack(pcall(fn, ...))
    state = "done"
    if not r[1] then error(r[2], 0) end
    return true
  end
  return object { call = run, ["do"] = run, done = function() return state == "done" end }
end)

local function context(parent, deadline)
  local reason
  local ctx
  local function err()
    if reason then return reason end
    if deadline and clock() >= deadline then reason = "context deadline exceeded"
    elseif parent then reason = parent.err() end
    return reason
  end
  local function child(at)
    if deadline and (not at or deadline < at) then at = deadline end
    return context(ctx, at)
  end
  local methods = {
    err = err,
    done = function() return err() ~= nil end,
    cancel = function() reason = reason or "context canceled" end,
    wait = function()
      if deadline then timers[ctx] = deadline end
      local ok, e = pcall(wait_until, function() return err() ~= nil end)
      timers[ctx] = nil
      if not ok then error(e, 0) end
    end,
    deadline = function()
      if not deadline then return nil, false end
      return floor((wall() + deadline - clock()) * 1000), true
    end,
    with_timeout = function(ms) return child(clock() + (tonumber(ms) or 0) / 1000) end,
    with_deadline = function(ms) return child(clock() + (tonumber(ms) or 0) / 1000 - wall()) end,
    with_cancel = function() local c = child(nil); return c, c.cancel end,
  }
  methods.is_cancelled, methods.is_done = methods.done, methods.done
  ctx = object(methods)
  return ctx
end
M.context = api(function() return context(nil, nil) end)
M.with_timeout = api(function(ms) return context(nil, clock() + (tonumber(ms) or 0) / 1000) end)
M.with_cancel = api(function() local c = context(nil, nil); return c, c.cancel end)

local pools = {}
-- Park (save) or resume the pools of a call's world of goroutines.
kernel.resets[#kernel.resets + 1] = function(extra, save)
  if save then extra.pools = pools else pools = extra.pools or {} end
end
M.pool_create = api(function(name, opts)
  enter()
  local workers = floor(tonumber(type(opts) == "table" and opts.workers or opts) or 4)
  pools[name] = { name = name, workers = workers, free = workers, pending = 0, active = 0,
    completed = 0, failed = 0, seq = 0 }
  return true
end)
M.pool_submit = api(function(name, fn, ...)
  enter()
  local pool = pools[name]
  if not pool then return nil, "pool not found: " .. tostring(name) end
  if type(fn) ~= "function" then fail("goroutine.pool_submit: expected a function") end
  if pool.pending - pool.active >= pool.workers * 2 then return nil, "pool queue is full" end
  pool.pending, pool.seq = pool.pending + 1, pool.seq + 1
  start(function(...)
    wait_until(function() return pool.free > 0 end)
    pool.free, pool.active = pool.free - 1, pool.active + 1
    local ok, err = pcall(fn, ...)
    pool.free, pool.active, pool.pending = pool.free + 1, pool.active - 1, pool.pending - 1
    if ok then pool.completed = pool.completed + 1 else
      pool.failed = pool.failed + 1
      report(name .. "#" .. pool.seq, tostring(err))
    end
  end, pack(...), true)
  return name .. "-" .. pool.seq
end)
M.pool_wait = api(function(name)
  enter()
  local pool = pools[name]
  if not pool then return false, "pool not found: " .. tostring(name) end
  wait_until(function() return pool.pending == 0 end)
  return true
end)
M.pool_stats = api(function(name)
  enter()
  local p = pools[name]
  if not p then return nil end
  return { name = p.name, workers = p.workers, active = p.active, completed = p.completed,
    failed = p.failed, queued = p.pending - p.active }
end)
M.pool_close = api(function(name)
  enter()
  local found = pools[name] ~= nil
  pools[name] = nil
  return found
end)
kernel.chan = chan
"""
