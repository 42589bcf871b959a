-- The original tool's additions to `math`, added beside standard Lua's functions (which keep
-- their standard behaviour: math.random(m, n), math.floor returning integers, ...).
-- Statistics take a table and use the numbers among its values, as the original did; an
-- empty table gives 0. Variance and standard deviation are of the population.
-- Each argument is a `math` table to extend (the workflows' and Sloth Runner's own copy).
local targets = table.pack(...)
local std = targets[1]
local pairs, type, sort = pairs, type, table.sort
local floor, sqrt, log, random, randomseed, atan, exp = std.floor, std.sqrt, std.log, std.random,
  std.randomseed, std.atan, std.exp
local math = {}

local function numbers(t)
  local out = {}
  for _, v in pairs(t) do
    if type(v) == "number" then out[#out + 1] = v end
  end
  return out
end

function math.round(x) if x < 0 then return -floor(-x + 0.5) end return floor(x + 0.5) end
function math.clamp(x, lo, hi) if x < lo then return lo elseif x > hi then return hi end return x end
function math.pow(x, y) return x ^ y end
function math.cbrt(x) if x < 0 then return -((-x) ^ (1 / 3)) end return x ^ (1 / 3) end
function math.atan2(y, x) return atan(y, x) end
function math.log10(x) return log(x, 10) end
function math.log2(x) return log(x, 2) end
function math.random_int(lo, hi)
  if lo > hi then lo, hi = hi, lo end
  return random(floor(lo), floor(hi))
end
function math.random_float(lo, hi)
  if lo > hi then lo, hi = hi, lo end
  return lo + random() * (hi - lo)
end
function math.seed(n) if n == nil then randomseed() else randomseed(floor(n)) end end
function math.sum(t)
  local s = 0
  for _, v in pairs(numbers(t)) do s = s + v end
  return s
end
function math.mean(t)
  local list = numbers(t)
  if #list == 0 then return 0 end
  return math.sum(list) / #list
end
function math.median(t)
  local list = numbers(t)
  local n = #list
  if n == 0 then return 0 end
  sort(list)
  if n % 2 == 0 then return (list[n // 2] + list[n // 2 + 1]) / 2 end
  return list[(n + 1) // 2]
end
function math.mode(t)
  local counts, best, best_count = {}, 0, 0
  for _, v in pairs(numbers(t)) do counts[v] = (counts[v] or 0) + 1 end
  for v, c in pairs(counts) do
    if c > best_count or (c == best_count and v < best) then best, best_count = v, c end
  end
  return best
end
function math.variance(t)
  local list = numbers(t)
  if #list == 0 then return 0 end
  local mean, acc = math.mean(list), 0
  for _, v in pairs(list) do acc = acc + (v - mean) ^ 2 end
  return acc / #list
end
function math.std_dev(t) return sqrt(math.variance(t)) end
math.e = exp(1)
math.phi = (1 + sqrt(5)) / 2
for i = 1, targets.n do
  for name, value in pairs(math) do targets[i][name] = value end
end
