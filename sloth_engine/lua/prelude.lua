-- Sandbox prelude: runs first in every runtime, before any workflow code.
-- Receives the Python guard check, the print sink and the memory limit (bytes); returns
-- helpers kept by Python. Every global it uses later is kept in a local first: workflow code
-- may replace `coroutine`, `error` or `string.rep`, and that must not change the engine.
local guard_check, print_sink, memory_limit = ...
local load_binary = load  -- kept for Sloth Runner's own precompiled chunks only
local error, type, tostring, select, ipairs, pcall = error, type, tostring, select, ipairs, pcall
local t_concat, m_max, m_type = table.concat, math.max, math.type

local sethook = debug.sethook
local getinfo = debug.getinfo
local GUARD_EVERY = 10000
local tripped_hook

local function guard_hook()
  local msg = guard_check()
  if msg then
    -- Once tripped, fire on every instruction so a pcall loop cannot swallow the stop.
    sethook(tripped_hook, "", 1)
    error(msg, 2)
  end
end

tripped_hook = function()
  local msg = guard_check()
  if msg then error(msg, 2) end
  sethook(guard_hook, "", GUARD_EVERY)
end

local function arm()
  sethook(guard_hook, "", GUARD_EVERY)
end
arm()

local pack, unpack = table.pack, table.unpack
local co_create, co_resume, co_status = coroutine.create, coroutine.resume, coroutine.status
local co_yield, isyieldable = coroutine.yield, coroutine.isyieldable

-- Blocking module calls (exec.run, time.sleep, ...) made inside a task's coroutine are not
-- run here: the call is yielded up as an OFFLOAD request, Python runs it on a thread and
-- resumes the task with the answer, so other tasks go on meanwhile. `offloading` is true
-- only while Python resumes a task coroutine.
local OFFLOAD = setmetatable({}, { __metatable = false, __tostring = function() return "offload" end })
local offloading = false
local direct_calls = {}

-- A coroutine waiting for the answer of a blocking call belongs to the task that made the
-- call: only that task's step may resume it (weak keys: a forgotten coroutine is collected).
local waiting = setmetatable({}, { __mode = "k" })
local function check_free(co)
  if waiting[co] then
    error("cannot resume a coroutine that is waiting in a blocking call (exec.run, time.sleep, ...) " ..
      "of another task; give each task its own coroutine", 3)
  end
end

-- Pass an offload request of an inner coroutine up to the task, or run it here when the
-- context cannot yield (a C boundary) or offloading is off.
local function forward(co, r)
  while r[1] and r[2] == OFFLOAD and co_status(co) == "suspended" do
    local reply
    if offloading and isyieldable() then
      waiting[co] = true
      reply = pack(co_yield(unpack(r, 2, r.n)))
      waiting[co] = nil
    else
      reply = pack(direct_calls[r[3]](unpack(r, 4, r.n)))
    end
    r = pack(co_resume(co, unpack(reply, 1, reply.n)))
  end
  return r
end

-- Coroutines do not inherit hooks: install the guard in every new one.
local function guarded_create(fn)
  local co = co_create(fn)
  sethook(co, guard_hook, "", GUARD_EVERY)
  return co
end
local co_close = coroutine.close
coroutine.create = guarded_create
coroutine.resume = function(co, ...)
  check_free(co)
  local r = forward(co, pack(co_resume(co, ...)))
  return unpack(r, 1, r.n)
end
coroutine.wrap = function(fn)
  local co = guarded_create(fn)
  return function(...)
    check_free(co)
    local r = forward(co, pack(co_resume(co, ...)))
    if not r[1] then error(r[2], 2) end
    return unpack(r, 2, r.n)
  end
end
coroutine.close = function(co)
  check_free(co)
  return co_close(co)
end

-- Wrap a Python function so its failures become ordinary Lua errors at the caller's line.
-- The Python side returns (true, results...) or (false, message).
-- After its task's deadline or cancel a module call does nothing: it raises the stop.
local function wrap(fn)
  return function(...)
    local stop = guard_check()
    if stop then error(stop, 2) end
    local r = pack(fn(...))
    if not r[1] then error(r[2], 2) end
    return unpack(r, 2, r.n)
  end
end

local function wrap_blocking(fn, index)
  direct_calls[index] = fn
  return function(...)
    local stop = guard_check()
    if stop then error(stop, 2) end
    local r
    if offloading and isyieldable() then
      r = pack(co_yield(OFFLOAD, index, ...))
    else
      r = pack(fn(...))
    end
    if not r[1] then error(r[2], 2) end
    return unpack(r, 2, r.n)
  end
end

-- Python drives a task as a coroutine, named by a number (a Lua thread does not cross into
-- Python intact): start() makes it, step() resumes it once and says how it stopped:
-- "done", values... | "offload", index, args... | "error", message; discard() forgets it.
local running, next_handle = {}, 0
local function start(fn)
  next_handle = next_handle + 1
  running[next_handle] = guarded_create(fn)
  return next_handle
end
local function step(handle, ...)
  local co = running[handle]
  waiting[co] = nil
  offloading = true
  local r = pack(co_resume(co, ...))
  offloading = false
  if not r[1] then running[handle] = nil return "error", r[2] end
  if co_status(co) == "dead" then running[handle] = nil return "done", unpack(r, 2, r.n) end
  if r[2] == OFFLOAD then
    waiting[co] = true  -- its task's coroutine: `coroutine.running()` kept by another task
    return "offload", unpack(r, 3, r.n)
  end
  running[handle] = nil
  return "error", "coroutine.yield() outside a coroutine of the workflow"
end
local function discard(handle)
  running[handle] = nil
end

-- print goes to the current task's log, never to the host's stdout.
local tostring_ = tostring
local format_ = string.format
print = function(...)
  local parts = pack(...)
  for i = 1, parts.n do parts[i] = tostring_(parts[i]) end
  print_sink(t_concat(parts, "\t", 1, parts.n))
end

-- Only text chunks, always inside the sandbox's globals.
local load_ = load
local G = _G
load = function(chunk, chunkname, mode, env)
  return load_(chunk, chunkname, "t", env or G)
end

-- What reaches the host outside the modules goes away.
local os_ = os
os = {
  time = os_.time, date = os_.date, clock = os_.clock, getenv = os_.getenv,
  difftime = os_.difftime,
}
local collectgarbage_ = collectgarbage
io = nil
dofile = nil
loadfile = nil
require = nil
package = nil
debug = nil
python = nil
collectgarbage = function(opt)
  if opt == nil or opt == "count" or opt == "collect" or opt == "step" then
    return collectgarbage_(opt)
  end
  error("collectgarbage('" .. tostring_(opt) .. "') is not allowed in a workflow", 2)
end
string.dump = nil

-- A finalizer runs whenever the collector (or closing the runtime) decides, with no task's
-- guard watching: an endless `__gc` would hang the daemon.
local setmetatable_, rawget__ = setmetatable, rawget
setmetatable = function(t, mt)
  if type(mt) == "table" and rawget__(mt, "__gc") ~= nil then
    error("__gc metamethods are not allowed in a workflow", 2)
  end
  return setmetatable_(t, mt)
end

-- The host's own credentials are not a workflow's business: every SLOTH_* variable (SLOTH_DB
-- may hold a PostgreSQL password), libpq's PG* variables, and any variable whose name says it
-- holds a credential read as nil.
local getenv_, s_find, s_byte, s_sub, s_upper = os_.getenv, string.find, string.byte, string.sub, string.upper
local function hidden_variable(name)
  local upper = s_upper(name)
  return s_find(upper, "^SLOTH_") or s_find(upper, "^PG") or s_find(upper, "PASS", 1, true)
    or s_find(upper, "SECRET", 1, true) or s_find(upper, "TOKEN", 1, true)
    or s_find(upper, "CREDENTIAL", 1, true) or s_find(upper, "_KEY$") or upper == "KEY"
end
os.getenv = function(name)
  if type(name) == "string" and hidden_variable(name) then
    return nil
  end
  return getenv_(name)
end

-- Lua's pattern matcher backtracks in C, where the guard hook cannot stop it: `.-.-.-b` on
-- a long string runs for hours. Refuse a match whose worst case exceeds the budget: each
-- repeated item followed by more pattern multiplies the work by the longest run of text
-- its class matches (all of it for `.`), an unanchored pattern by the subject's length.
local PATTERN_BUDGET = 1e9

local function class_end(p, i)
  local c = s_byte(p, i)
  if c == 37 then return i + 1 end
  if c ~= 91 then return i end
  local j = i + 1
  if s_byte(p, j) == 94 then j = j + 1 end
  repeat
    if j > #p then return nil end
    if s_byte(p, j) == 37 then j = j + 1 end
    j = j + 1
  until s_byte(p, j) == 93
  return j
end

local function repeated_items(p, i)
  local items, len = {}, #p
  while i <= len do
    local c = s_byte(p, i)
    if c == 40 or c == 41 then
      i = i + 1
    elseif c == 37 and s_byte(p, i + 1) == 98 then
      i = i + 4
    elseif c == 37 and s_byte(p, i + 1) == 102 then
      local e = class_end(p, i + 2)
      if not e then return nil end
      i = e + 1
    else
      local e = class_end(p, i)
      if not e then return nil end
      local q = s_byte(p, e + 1)
      if q == 42 or q == 43 or q == 45 or q == 63 then
        if not s_find(p, "^[)$]*$", e + 2) then items[#items + 1] = { s_sub(p, i, e), q } end
        i = e + 2
      else
        i = e + 1
      end
    end
  end
  return items
end

local function longest_run(s, class)
  if class == "." then return #s end
  local best, pos, pat = 0, 1, class .. "+"
  while true do
    local a, b = s_find(s, pat, pos)
    if not a then return best end
    if b - a + 1 > best then best = b - a + 1 end
    pos = b + 1
  end
end

local function check_pattern(what, s, p, anchor_ok)
  if type(s) == "number" then s = tostring_(s) end
  if type(s) ~= "string" or type(p) ~= "string" or #s < 64 then return end
  local start = 1
  if anchor_ok and s_byte(p, 1) == 94 then start = 2 end
  local items = repeated_items(p, start)
  if not items or #items == 0 then return end
  local n = #s
  local rough = start == 2 and 1 or n
  for _, item in ipairs(items) do rough = rough * (item[2] == 63 and 2 or n) end
  if rough <= PATTERN_BUDGET then return end
  local cost = start == 2 and 1 or n
  for _, item in ipairs(items) do
    cost = cost * (item[2] == 63 and 2 or m_max(1, longest_run(s, item[1])))
  end
  if cost > PATTERN_BUDGET then
    error(format_("%s: pattern '%s' is too costly on %d bytes of text (nested repetition " ..
      "backtracks without bound); match smaller pieces or use a plain find", what, s_sub(p, 1, 40), n), 3)
  end
end

-- A literal search compares the pattern at every position: `#s * #p` byte comparisons in C
-- (~3e10 a second here), so a long pattern over a long text is bounded too.
local LITERAL_BUDGET = 3e11

local function check_literal(what, s, p)
  if type(s) == "string" and type(p) == "string" and #p > 64 and #s * #p > LITERAL_BUDGET then
    error(format_("%s: searching %d bytes for a %d-byte pattern is too costly (%.0f comparisons); " ..
      "search for a shorter piece", what, #s, #p, #s * #p), 3)
  end
end

local s_match, s_gmatch, s_gsub = string.match, string.gmatch, string.gsub
string.find = function(s, p, init, plain, ...)
  check_literal("string.find", s, p)
  if not plain then check_pattern("string.find", s, p, true) end
  return s_find(s, p, init, plain, ...)
end
string.match = function(s, p, ...)
  check_literal("string.match", s, p)
  check_pattern("string.match", s, p, true)
  return s_match(s, p, ...)
end
string.gmatch = function(s, p, ...)
  check_literal("string.gmatch", s, p)
  check_pattern("string.gmatch", s, p, false)
  return s_gmatch(s, p, ...)
end
string.gsub = function(s, p, ...)
  check_literal("string.gsub", s, p)
  check_pattern("string.gsub", s, p, false)
  return s_gsub(s, p, ...)
end

-- C functions of the standard library loop or allocate without returning to the count hook:
-- once `table.move({}, 1, 1e15, 1, {})` runs, no deadline can stop it. Their arguments are
-- checked first: against the deadline, and against the memory limit (a length or a result
-- that could never fit is refused at once, so the work left is bounded by the memory).
local MAX_ITEMS = memory_limit // 16  -- more slots than the memory could ever hold
local MB = 1024 * 1024
local getmetatable_, tointeger = getmetatable, math.tointeger
local s_rep, t_move, t_insert, t_remove, t_sort, t_unpack =
  string.rep, table.move, table.insert, table.remove, table.sort, table.unpack

local function stop_check()
  local stop = guard_check()
  if stop then error(stop, 3) end
end

local function fits(bytes)
  if bytes <= memory_limit - collectgarbage_("count") * 1024 then return true end
  collectgarbage_("collect")
  return bytes <= memory_limit - collectgarbage_("count") * 1024
end

local function check_range(what, first, last)
  if type(first) == "number" and type(last) == "number" and last - first >= MAX_ITEMS then
    error(format_("%s: a range of %.0f elements is larger than any table can be within the " ..
      "memory limit (%d MB)", what, last - first + 1, memory_limit // MB), 3)
  end
end

-- A table whose __len lies (2^53) would make the C loop run that many turns.
local function check_length(what, t)
  if type(t) == "table" and getmetatable_(t) ~= nil then
    local n = #t
    if type(n) == "number" and n > MAX_ITEMS then
      error(format_("%s: a length of %.0f is larger than any table can be within the memory " ..
        "limit (%d MB)", what, n, memory_limit // MB), 3)
    end
  end
end

local function piece_length(v)
  if type(v) == "string" then return #v end
  if type(v) == "number" then return #tostring_(v) end
  return 0
end

string.rep = function(s, n, sep)
  stop_check()
  local count = type(n) == "number" and tointeger(n) or nil
  if count and count > 0 then
    local piece, gap = piece_length(s), piece_length(sep)
    -- Empty pieces: "" whatever n, without n turns of a C loop.
    if piece + gap == 0 then return s_rep(s, 0, sep) end
    local size = piece * count + gap * (count - 1)
    if not fits(size) then
      error(format_("string.rep: a result of %.0f bytes does not fit in the memory limit (%d MB)",
        size, memory_limit // MB), 2)
    end
  end
  return s_rep(s, n, sep)
end
table.move = function(a1, f, e, t, a2)
  stop_check()
  check_range("table.move", f, e)
  return t_move(a1, f, e, t, a2)
end
table.concat = function(list, sep, i, j)
  stop_check()
  if j == nil then check_length("table.concat", list) end
  check_range("table.concat", i or 1, j)
  return t_concat(list, sep, i, j)
end
table.unpack = function(list, i, j, ...)
  if j == nil then check_length("table.unpack", list) end
  check_range("table.unpack", i or 1, j)
  return t_unpack(list, i, j, ...)
end
table.insert = function(list, ...)
  check_length("table.insert", list)
  return t_insert(list, ...)
end
table.remove = function(list, ...)
  check_length("table.remove", list)
  return t_remove(list, ...)
end
table.sort = function(list, ...)
  stop_check()
  check_length("table.sort", list)
  return t_sort(list, ...)
end

-- Shared metatables must not be changed by one workflow for everyone.
local string_mt = getmetatable("")
string_mt.__metatable = false

-- Modules are installed when a workflow first names them: a file pays only for what it uses.
local lazy = {}
local rawget_ = rawget
setmetatable(_G, {
  __index = function(t, name)
    local install = lazy[name]
    if install == nil then return nil end
    lazy[name] = nil
    install(name)
    return rawget_(t, name)
  end,
  __metatable = false,
})
-- names: a table of global names; install(name) is called on the first read of one.
local function lazy_globals(names, install)
  for _, name in ipairs(names) do lazy[name] = install end
end

-- Load one of Sloth Runner's own chunks, precompiled (never workflow code).
-- They see the standard library as it is now, whatever workflow code later does to the
-- globals (`coroutine = nil`, a new `string.rep`): a module installed after that still works.
-- Names not found there (the modules, installed lazily) come from the workflow's globals,
-- and what they define goes there.
local pristine = setmetatable({}, { __index = G })
for name, value in pairs(G) do
  if type(value) == "table" and name ~= "_G" then
    local copy = {}
    for key, item in pairs(value) do copy[key] = item end
    value = copy
  end
  pristine[name] = value
end
local trusted_env = setmetatable({}, { __index = pristine, __newindex = G })

local function load_trusted(bytecode, name)
  return load_binary(bytecode, "=" .. name, "b", trusted_env)
end

-- Identity of a table for cycle detection on the Python side (ignores __tostring).
local format = string.format
local function identity(t) return format("%p", t) end

-- Where trusted DSL code was called from: (source, line) of the given stack level.
local function caller(level)
  local info = getinfo(level + 1, "Sl")
  if info then return info.short_src, info.currentline end
  return nil, nil
end

return {
  wrap = wrap, wrap_blocking = wrap_blocking, arm = arm, identity = identity, caller = caller,
  start = start, step = step, discard = discard,
  lazy_globals = lazy_globals, load_trusted = load_trusted, pristine = pristine,
}
