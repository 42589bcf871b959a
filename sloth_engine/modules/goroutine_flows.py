"""Lua source of the `goroutine` module's condition variables and channel plumbing.

`cond()` (wait/signal/broadcast/get_mutex), `pipeline`, `fan_out` and `fan_in` from the
original tool, built from the scheduler kernel and the channels of goroutine_sync.py: each
stage is a set of goroutines between channels of capacity 10, and a channel is closed when
everything feeding it has finished, so `:range` ends.
"""

from __future__ import annotations

FLOWS_LUA = r"""
local M, kernel = ...
local api, object, fail, start = kernel.api, kernel.object, kernel.fail, kernel.start
local wait_until, report, chan = kernel.wait_until, kernel.report, kernel.chan
local pack, remove = table.pack, table.remove
local pcall, error, type, tostring, tonumber = pcall, error, type, tostring, tonumber
local ipairs, floor = ipairs, math.floor

M.cond = api(function()
  local mu = M.mutex()
  local waiting, next_ticket = {}, 0
  return object {
    wait = function()
      next_ticket = next_ticket + 1
      local ticket = { n = next_ticket }
      waiting[#waiting + 1] = ticket
      mu.unlock()
      local ok, err = pcall(wait_until, function() return ticket.woken end)
      if not ok then
        for i, t in ipairs(waiting) do if t == ticket then remove(waiting, i) break end end
        error(err, 0)
      end
      mu.lock()
    end,
    signal = function()
      local ticket = remove(waiting, 1)
      if ticket then ticket.woken = true end
    end,
    broadcast = function()
      for _, ticket in ipairs(waiting) do ticket.woken = true end
      waiting = {}
    end,
    get_mutex = function() return mu end,
  }
end)

-- Stages, fan-out and fan-in: goroutines between channels of capacity 10, as the original.
local function pump(fn) start(fn, pack(), false) end
local function closer(ch, count)
  local left = count
  return function()
    left = left - 1
    if left == 0 then ch.close() end
  end
end
M.pipeline = api(function(input, stages)
  chan(input)
  if type(stages) ~= "table" then fail("goroutine.pipeline: expected a list of stages") end
  local current = input
  for i, stage in ipairs(stages) do
    local fn, workers = stage.fn, floor(tonumber(stage.workers) or 1)
    if type(fn) ~= "function" then fail("goroutine.pipeline: stage " .. i .. " needs fn") end
    if workers < 1 then fail("goroutine.pipeline: stage " .. i .. " needs at least one worker") end
    local from, out = current, M.channel(10)
    local finished = closer(out, workers)
    for w = 1, workers do
      pump(function()
        while true do
          local v, ok = from.receive()
          if not ok then break end
          local good, result = pcall(fn, v)
          if good then out.send(result) else report("pipeline stage " .. i, tostring(result)) end
        end
        finished()
      end)
    end
    current = out
  end
  return current
end)
M.fan_out = api(function(input, n)
  chan(input)
  local count = floor(tonumber(n) or 0)
  if count <= 0 then fail("goroutine.fan_out: number of outputs must be positive") end
  local outputs = {}
  for i = 1, count do outputs[i] = M.channel(10) end
  pump(function()
    while true do
      local v, ok = input.receive()
      if not ok then break end
      for _, out in ipairs(outputs) do out.send(v) end
    end
    for _, out in ipairs(outputs) do out.close() end
  end)
  return outputs
end)
M.fan_in = api(function(inputs)
  local list = {}
  for _, ch in ipairs(type(inputs) == "table" and inputs or {}) do chan(ch); list[#list + 1] = ch end
  if #list == 0 then fail("goroutine.fan_in: at least one input channel required") end
  local out = M.channel(10)
  local finished = closer(out, #list)
  for _, input in ipairs(list) do
    pump(function()
      while true do
        local v, ok = input.receive()
        if not ok then break end
        out.send(v)
      end
      finished()
    end)
  end
  return out
end)
"""
