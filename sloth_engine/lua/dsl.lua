-- The workflow DSL: task builders, workflow definitions (fluent, table and legacy forms).
-- Runs once per runtime before the workflow file; records definitions into a registry that
-- the Python loader turns into a WorkflowSpec. Receives the sandbox's `caller(level)` helper
-- and the import function.
local caller, import_file = ...
local getmetatable, setmetatable, type, error, select, pairs = getmetatable, setmetatable, type, error, select, pairs
local insert = table.insert

local registry = { workflows = {}, tasks = {} }

local function here(level)
  local _, line = caller(level + 1)
  return line
end

-- Errors raised by the DSL carry the line of the user's call.
local function fail(message, level)
  error(message, (level or 1) + 1)
end

local TASK_METHODS = {
  description = "description", command = "command", run = "command", timeout = "timeout",
  depends_on = "depends_on", delegate_to = "delegate_to", workdir = "workdir", user = "user",
  env = "env", params = "params", run_if = "run_if", abort_if = "abort_if",
  pre_hook = "pre_hook", post_hook = "post_hook", on_success = "on_success",
  on_failure = "on_failure", on_fail = "on_failure", on_timeout = "on_timeout",
  on_rollback = "on_rollback", artifacts = "artifacts", consumes = "consumes",
  async = "async", name = "name",
}

local TaskBuilder = {}
local task_methods = {}

for method, field in pairs(TASK_METHODS) do
  task_methods[method] = function(self, value, ...)
    if getmetatable(self) ~= "task" then
      fail("task builder method '" .. method .. "' must be called with ':' (task(\"x\"):" .. method .. "(...))", 2)
    end
    if field == "depends_on" and select("#", ...) > 0 then
      value = { value, ... }
    end
    self._fields[field] = value
    self._lines[field] = here(2)
    return self
  end
end

task_methods.retries = function(self, count, strategy)
  if getmetatable(self) ~= "task" then
    fail("task builder method 'retries' must be called with ':'", 2)
  end
  self._fields.retries = count
  self._fields.retry_strategy = strategy
  self._lines.retries = here(2)
  return self
end

task_methods.build = function(self)
  self._built = true
  return self
end

TaskBuilder.__index = function(self, key)
  local method = task_methods[key]
  if method then return method end
  if type(key) == "string" then
    fail("unknown task builder method '" .. key .. "'", 2)
  end
  return nil
end
TaskBuilder.__metatable = "task"

local function new_task(name, line)
  local t = setmetatable({ _fields = {}, _lines = {}, _line = line, _name = name }, TaskBuilder)
  insert(registry.tasks, t)
  return t
end

function task(name)
  if type(name) ~= "string" or name == "" then
    fail("task(name) needs a non-empty string name", 2)
  end
  return new_task(name, here(2))
end

local function is_task(value)
  return type(value) == "table" and getmetatable(value) == "task"
end

-- ---------------------------------------------------------------- workflows

local WorkflowBuilder = {}
local WORKFLOW_METHODS = {
  description = "description", version = "version", tasks = "tasks", config = "config",
  on_task_start = "on_task_start", on_task_complete = "on_task_complete",
  on_start = "on_start", on_complete = "on_complete", delegate_to = "delegate_to",
  workdir = "workdir", timeout = "timeout", on_failure = "on_failure", name = "name",
}
local workflow_methods = {}
for method, field in pairs(WORKFLOW_METHODS) do
  workflow_methods[method] = function(self, value)
    if getmetatable(self) ~= "workflow" then
      fail("workflow method '" .. method .. "' must be called with ':'", 2)
    end
    rawget(self, "_def")[field] = value
    rawget(self, "_lines")[field] = here(2)
    return self
  end
end
workflow_methods.build = function(self) return self end
WorkflowBuilder.__index = function(self, key)
  local method = workflow_methods[key]
  if method then return method end
  if type(key) == "string" and key:sub(1, 1) ~= "_" then
    fail("unknown workflow method '" .. key .. "'", 2)
  end
  return nil
end
WorkflowBuilder.__metatable = "workflow"

local function register_workflow(name, def, line, form)
  if type(name) ~= "string" or name == "" then
    fail("a workflow needs a non-empty string name", 3)
  end
  local entry = setmetatable({ _def = def, _lines = {}, _line = line, _name = name, _form = form },
    WorkflowBuilder)
  insert(registry.workflows, entry)
  return entry
end

workflow = setmetatable({}, {
  __call = function(_, def)
    if type(def) ~= "table" then fail("workflow({...}) needs a table", 2) end
    return register_workflow(def.name, def, here(2), "table")
  end,
})

function workflow.define(name, def)
  local line = here(2)
  if def ~= nil and type(def) ~= "table" then
    fail("workflow.define(name, definition): definition must be a table", 2)
  end
  if def then
    return register_workflow(name, def, line, "table")
  end
  return register_workflow(name, {}, line, "fluent")
end

-- ---------------------------------------------------------------- modules

local loaded = {}
function import(path)
  if type(path) ~= "string" then fail("import(path) needs a string", 2) end
  if loaded[path] == nil then
    local source, chunkname = import_file(path)
    local chunk, err = load(source, "@" .. chunkname, "t")
    if not chunk then fail(err, 2) end
    local result = chunk()
    if result == nil then result = true end
    loaded[path] = result
  end
  return loaded[path]
end

function require(name)
  if type(name) ~= "string" then fail("require(name) needs a string", 2) end
  -- The original's files say `local git = require("git")`: a module's name gives the module.
  if not name:find("[./]") then
    local module = _G[name]
    if type(module) == "table" then return module end
  end
  local path = name
  if not path:find("%.lua$") then path = path:gsub("%.", "/") .. ".lua" end
  return import(path)
end

return { registry = registry, is_task = is_task }
