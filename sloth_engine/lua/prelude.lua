-- Sandbox prelude: runs first in every runtime, before any workflow code.
-- Receives the Python guard check and the print sink; returns helpers kept by Python.
local guard_check, print_sink = ...

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

-- Coroutines do not inherit hooks: install the guard in every new one.
local co_create, co_wrap, co_resume = coroutine.create, coroutine.wrap, coroutine.resume
coroutine.create = function(fn)
  local co = co_create(fn)
  sethook(co, guard_hook, "", GUARD_EVERY)
  return co
end
coroutine.wrap = function(fn)
  local co = coroutine.create(fn)
  return function(...)
    local res = table.pack(co_resume(co, ...))
    if not res[1] then error(res[2], 2) end
    return table.unpack(res, 2, res.n)
  end
end

-- Wrap a Python function so its failures become ordinary Lua errors at the caller's line.
-- The Python side returns (true, results...) or (false, message).
local pack, unpack = table.pack, table.unpack
local function wrap(fn)
  return function(...)
    local r = pack(fn(...))
    if not r[1] then error(r[2], 2) end
    return unpack(r, 2, r.n)
  end
end

-- print goes to the current task's log, never to the host's stdout.
local tostring_ = tostring
print = function(...)
  local parts = pack(...)
  for i = 1, parts.n do parts[i] = tostring_(parts[i]) end
  print_sink(table.concat(parts, "\t", 1, parts.n))
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

-- Shared metatables must not be changed by one workflow for everyone.
local string_mt = getmetatable("")
string_mt.__metatable = false

-- Identity of a table for cycle detection on the Python side (ignores __tostring).
local format = string.format
local function identity(t) return format("%p", t) end

-- Where trusted DSL code was called from: (source, line) of the given stack level.
local function caller(level)
  local info = getinfo(level + 1, "Sl")
  if info then return info.short_src, info.currentline end
  return nil, nil
end

return { wrap = wrap, arm = arm, identity = identity, caller = caller }
