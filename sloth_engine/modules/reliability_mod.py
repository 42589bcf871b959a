"""`reliability`: retries with backoff and circuit breakers, as the original's module.

    local value, err = reliability.retry(3, 1, function() return http.get(url) end)
    local value, err = reliability.retry_with_config({ max_attempts = 5, initial_delay = 0.5,
        max_delay = 10, strategy = reliability.strategy.EXPONENTIAL_BACKOFF, multiplier = 2,
        jitter = true, on_retry = function(attempt, delay, err) end }, fn)
    local value, err = reliability.circuit_breaker("api", { max_failures = 5, timeout = 60,
        success_threshold = 1, on_state_change = function(from, to) end }, fn)
    reliability.get_circuit_stats("api") -> {state, requests, total_success, total_failures,
        consecutive_success, consecutive_failures, last_success_time, last_failure_time}
    reliability.reset_circuit("api") -> true | false, message;  reliability.list_circuits() -> names

A call fails when `fn` raises or returns a second value that is a non-empty message (the
original's `value, err` convention); the functions return `value` or `nil, message` and never
raise for a failing `fn`. Delays are seconds; strategies FIXED_DELAY, EXPONENTIAL_BACKOFF
(default), LINEAR_BACKOFF; `max_delay` caps a delay (default 30), `jitter` moves it by up to
10%. A breaker opens after `max_failures` failures in a row, refuses calls ("circuit breaker is
open") for `timeout` seconds, then lets one through (half-open): `success_threshold`
successes close it, a failure opens it again. Breakers live as long as the run's runtime.
Waiting between attempts is interruptible (a task timeout or cancel stops it).
"""

from __future__ import annotations

import time

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.time_mod import sleep_guarded

_LUA = r"""
local nap, clock, wall = ...
local pcall, type, tostring, error, pairs, random = pcall, type, tostring, error, pairs, math.random
local floor, min, max, sort = math.floor, math.min, math.max, table.sort
local M = { strategy = { FIXED_DELAY = 0, EXPONENTIAL_BACKOFF = 1, LINEAR_BACKOFF = 2, CUSTOM_BACKOFF = 3 } }

local function attempt(fn)
  local ok, value, err = pcall(fn)
  if not ok then return false, nil, "function execution failed: " .. tostring(value) end
  if err ~= nil and err ~= "" and err ~= false then return false, value, tostring(err) end
  return true, value
end

local function delay_for(cfg, n)
  local d = cfg.initial_delay
  if cfg.strategy == 1 then d = cfg.initial_delay * cfg.multiplier ^ (n - 1)
  elseif cfg.strategy == 2 then d = cfg.initial_delay * n * cfg.multiplier end
  d = min(d, cfg.max_delay)
  if cfg.jitter then d = d + d * 0.1 * (random() * 2 - 1) end
  return max(0, d)
end

local function retry(cfg, fn)
  if type(fn) ~= "function" then error("reliability: expected a function", 3) end
  local started, last = clock(), nil
  for n = 1, cfg.max_attempts do
    local ok, value, err = attempt(fn)
    if ok then return value end
    last = err
    if n < cfg.max_attempts then
      local d = delay_for(cfg, n)
      if cfg.on_retry then pcall(cfg.on_retry, n, d, err) end
      local why = nap(d)
      if why then error(why, 0) end
    end
  end
  local spent = clock() - started
  return nil, ("retry exhausted after %d attempts (%.1fs): %s"):format(cfg.max_attempts, spent, last)
end

local function number(v, default) if type(v) == "number" then return v end return default end

function M.retry(max_attempts, initial_delay, fn)
  return retry({ max_attempts = max(1, floor(number(max_attempts, 3))),
                 initial_delay = number(initial_delay, 1), max_delay = 30,
                 strategy = 1, multiplier = 2, jitter = true }, fn)
end

function M.retry_with_config(c, fn)
  if type(c) ~= "table" then error("reliability.retry_with_config: expected a config table", 2) end
  return retry({ max_attempts = max(1, floor(number(c.max_attempts, 3))),
                 initial_delay = number(c.initial_delay, 1), max_delay = number(c.max_delay, 30),
                 strategy = number(c.strategy, 1), multiplier = number(c.multiplier, 2),
                 jitter = c.jitter ~= false,
                 on_retry = type(c.on_retry) == "function" and c.on_retry or nil }, fn)
end

local circuits = {}
local function stamp() return os.date("!%Y-%m-%dT%H:%M:%SZ", floor(wall())) end
local function move(cb, to)
  if cb.state == to then return end
  local from = cb.state
  cb.state, cb.changed = to, clock()
  if to ~= "closed" then cb.consecutive_success = 0 end
  if cb.on_state_change then pcall(cb.on_state_change, from, to) end
end

function M.circuit_breaker(name, c, fn)
  if type(name) ~= "string" then error("reliability.circuit_breaker: name must be text", 2) end
  if type(fn) ~= "function" then error("reliability.circuit_breaker: expected a function", 2) end
  c = type(c) == "table" and c or {}
  local cb = circuits[name]
  if not cb then
    cb = { state = "closed", changed = clock(), requests = 0, total_success = 0, total_failures = 0,
           consecutive_success = 0, consecutive_failures = 0 }
    circuits[name] = cb
  end
  cb.max_failures = max(1, floor(number(c.max_failures, 5)))
  cb.timeout = number(c.timeout, 60)
  cb.success_threshold = max(1, floor(number(c.success_threshold, 1)))
  cb.on_state_change = type(c.on_state_change) == "function" and c.on_state_change or nil
  if cb.state == "open" then
    if clock() - cb.changed < cb.timeout then return nil, "circuit breaker is open" end
    move(cb, "half-open")
  end
  cb.requests = cb.requests + 1
  local ok, value, err = attempt(fn)
  if ok then
    cb.total_success, cb.consecutive_success = cb.total_success + 1, cb.consecutive_success + 1
    cb.consecutive_failures, cb.last_success_time = 0, stamp()
    if cb.state == "half-open" and cb.consecutive_success >= cb.success_threshold then move(cb, "closed") end
    return value
  end
  cb.total_failures, cb.consecutive_failures = cb.total_failures + 1, cb.consecutive_failures + 1
  cb.consecutive_success, cb.last_failure_time = 0, stamp()
  if cb.state == "half-open" or cb.consecutive_failures >= cb.max_failures then move(cb, "open") end
  return nil, err
end

function M.get_circuit_stats(name)
  local cb = circuits[name]
  if not cb then return nil, "circuit breaker not found: " .. tostring(name) end
  return { state = cb.state, requests = cb.requests, total_success = cb.total_success,
           total_failures = cb.total_failures, consecutive_success = cb.consecutive_success,
           consecutive_failures = cb.consecutive_failures, last_success_time = cb.last_success_time,
           last_failure_time = cb.last_failure_time }
end

function M.reset_circuit(name)
  local cb = circuits[name]
  if not cb then return false, "circuit breaker not found: " .. tostring(name) end
  move(cb, "closed")
  cb.consecutive_success, cb.consecutive_failures = 0, 0
  return true
end

function M.list_circuits()
  local names = {}
  for name in pairs(circuits) do names[#names + 1] = name end
  sort(names)
  return names
end
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def nap(seconds: float) -> str | None:
        if seconds > 3600:
            raise ModuleError("reliability: a delay over an hour")
        return sleep_guarded(sandbox, float(seconds))

    module = sandbox.run_lua(
        _LUA,
        "reliability",
        sandbox.function(nap, blocking=True),
        sandbox.function(time.monotonic),
        sandbox.function(time.time),
    )
    sandbox.globals()["reliability"] = module
