"""`stack`: the resources and outputs of the stack the run belongs to.

    local status, res = stack.register_resource{ type = "file", name = "motd",
        properties = { path = "/etc/motd", content = "hi", mode = "0644" },
        depends_on = { "package.nginx" }, read = "cat /etc/motd" }
                                          -- status: "created" | "changed" | "unchanged"
    stack.get_resource(type, name)        -- or get_resource(name) / ("type.name"); nil if absent
    stack.update_resource(type, name, { state = "applied", properties = {...}, key = value })
    stack.delete_resource(type, name)     -- true if it existed
    stack.resource_exists(type, name)
    stack.set_output(key, value)          stack.get_output(key)     stack.get_outputs()
    stack.get_id() / stack.get_name()     stack.get_status()        -- nil outside a stack
    stack.get_name()

The checksum of the properties tells "changed" from "unchanged"; each resource remembers the
task and run that registered it. `read` says how drift detection reads the actual state: a
shell command whose stdout (JSON when it parses) is the actual value, or the name of a function
defined at the top level of the workflow file (a global function, also given as the function
itself), called with the resource after the file is loaded again without running any task.
`file` resources need no `read`: path, content, checksum, mode and owner are read from disk.

Values are checked and encoded on the Lua thread; store calls are blocking calls on PostgreSQL
(a network round trip each) and inline on SQLite, as in the `state` module.
"""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.errors import SlothError
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, configuration_error
from sloth_engine.store.resources import Origin, ResourceSpec
from sloth_engine.store.stack_records import canonical_json
from sloth_engine.store_port import StackPort, offered

_SHIM = """
local py = ...
local G, type, pairs, rawget, error = _G, type, pairs, rawget, error
local function global_name(fn)
  for k, v in pairs(G) do
    if v == fn and type(k) == "string" then return k end
  end
  return nil
end
local function encoded(what, value)
  local text, err = py.encode(what, value)
  if text == nil then error(err, 3) end
  return text
end
local M = {}
function M.register_resource(spec)
  if type(spec) ~= "table" then
    error("stack.register_resource: expected a table { type = ..., name = ..., properties = {...} }", 2)
  end
  local read, kind = spec.read, nil
  if type(read) == "function" then
    read = global_name(read)
    if read == nil then
      error("stack.register_resource: read must be a function defined at the top level "
        .. "of the workflow file (not local)", 2)
    end
    kind = "function"
  elseif type(read) == "string" then
    kind = type(rawget(G, read)) == "function" and "function" or "shell"
  elseif read ~= nil then
    error("stack.register_resource: read must be a shell command or a top-level function", 2)
  end
  local props = encoded("properties", spec.properties or {})
  local deps = spec.depends_on
  if type(deps) == "string" then deps = { deps } end
  return py.register(spec.type, spec.name, props, deps or {}, read, kind, spec.module)
end
function M.update_resource(kind, name, changes)
  return py.update(kind, name, encoded("changes", changes or {}))
end
function M.set_output(key, value)
  if value == nil then return py.set_output(key, nil) end
  return py.set_output(key, encoded("output '" .. tostring(key) .. "'", value))
end
M.get_resource = py.get_resource
M.delete_resource = py.delete_resource
M.resource_exists = py.resource_exists
M.get_output = py.get_output
M.get_outputs = py.get_outputs
M.get_name = py.get_name
M.get_id = py.get_name  -- a stack is known by its name here (the original gave a UUID)
M.get_status = py.get_status
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    api = _StackApi(sandbox, env)
    port = env.store_port()
    on_pg = port is not None and port.blocking  # PostgreSQL or a master: each call waits
    calls: tuple[str, ...] = ("register", "update", "get_resource", "delete_resource", "resource_exists")
    calls += ("set_output", "get_output", "get_outputs", "get_status")
    py = sandbox.lua.table()
    for name in calls:  # one port call each: awaitable on a loop when the port allows it
        py[name] = sandbox.function(offered(getattr(api, name), port), blocking=on_pg)
    py["encode"] = sandbox.function(api.encode, raw_args=True)
    py["get_name"] = sandbox.function(api.get_name)
    sandbox.globals()["stack"] = sandbox.run_lua(_SHIM, "stack", py)


class _StackApi:
    """The Python side: arguments checked, errors raised as Lua errors at the caller's line."""

    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self._sandbox = sandbox
        self._env = env

    def _stacks(self, what: str) -> tuple[StackPort, str]:
        port = self._env.store_port()
        if port is None:
            raise configuration_error(self._sandbox, f"stack.{what}: this runtime has no store")
        if not self._env.stack:
            text = (
                f"stack.{what}: this run belongs to no stack "
                "(run it as `run STACK -f FILE` or set config.stack)"
            )
            raise configuration_error(self._sandbox, text)
        return port.stacks, self._env.stack

    def _origin(self) -> Origin:
        scope = self._sandbox.scope
        return Origin(task=scope.task_name, workflow=scope.workflow, run_id=scope.run_id or None)

    # ---- on the Lua thread ----------------------------------------------------------

    def encode(self, what: Any = None, value: Any = None) -> tuple[Any, Any]:
        """Canonical JSON of a Lua value, or (nil, message)."""
        try:
            return canonical_json(self._sandbox.to_py(value, keep_functions=False)), None
        except ModuleError as exc:
            return None, f"stack: {what} cannot be stored: {exc}"

    def get_name(self) -> str | None:
        return self._env.stack

    # ---- store calls ------------------------------------------------------------------

    def register(
        self,
        type_: Any = None,
        name: Any = None,
        properties: Any = "{}",
        depends_on: Any = None,
        read: Any = None,
        kind: Any = None,
        module: Any = None,
    ) -> tuple[str, dict[str, Any]]:
        stacks, stack = self._stacks("register_resource")
        if not isinstance(type_, str) or not type_ or not isinstance(name, str) or not name:
            raise ModuleError("stack.register_resource: type and name must be non-empty strings")
        if json.loads(properties).__class__ is not dict:
            raise ModuleError("stack.register_resource: properties must be a table of named fields")
        deps = [str(d) for d in (depends_on if isinstance(depends_on, list) else [])]
        if isinstance(depends_on, dict):
            deps = [str(d) for d in depends_on.values()]
        spec = ResourceSpec(type_, name, properties, deps, read, kind, str(module or ""))
        outcome, record = self._call(lambda: stacks.register(stack, spec, self._origin()))
        return outcome.value, _resource(record)

    def update(self, type_: Any = None, name: Any = None, changes: Any = "{}") -> dict[str, Any]:
        stacks, stack = self._stacks("update_resource")
        data = json.loads(changes)
        if not isinstance(data, dict):
            raise ModuleError("stack.update_resource: changes must be a table")
        record = self._call(lambda: stacks.update(stack, str(type_), str(name), data))
        return _resource(record)

    def get_resource(self, type_: Any = None, name: Any = None) -> dict[str, Any] | None:
        stacks, stack = self._stacks("get_resource")
        if name is None:
            record = self._call(lambda: stacks.find(stack, str(type_)))
        else:
            record = self._call(lambda: stacks.get(stack, str(type_), str(name)))
        return _resource(record) if record is not None else None

    def resource_exists(self, type_: Any = None, name: Any = None) -> bool:
        return self.get_resource(type_, name) is not None

    def delete_resource(self, type_: Any = None, name: Any = None) -> bool:
        stacks, stack = self._stacks("delete_resource")
        return bool(self._call(lambda: stacks.delete(stack, str(type_), str(name))))

    def set_output(self, key: Any = None, text: Any = None) -> bool:
        stacks, stack = self._stacks("set_output")
        if not isinstance(key, str) or not key:
            raise ModuleError("stack.set_output: the key must be a non-empty string")
        value = None if text is None else json.loads(text)
        self._call(lambda: stacks.set_output(stack, key, value))
        return True

    def get_output(self, key: Any = None) -> Any:
        stacks, stack = self._stacks("get_output")
        return self._call(lambda: stacks.outputs(stack)).get(str(key))

    def get_outputs(self) -> dict[str, Any]:
        stacks, stack = self._stacks("get_outputs")
        return self._call(lambda: stacks.outputs(stack))

    def get_status(self) -> str | None:
        """The run's stack's status (nil outside a stack, as the original)."""
        if self._env.stack is None:
            return None
        stacks, stack = self._stacks("get_status")
        return self._call(lambda: stacks.status(stack))

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except SlothError as exc:
            raise ModuleError(str(exc)) from None


def _resource(record: Any) -> dict[str, Any]:
    return {
        "type": record.type,
        "name": record.name,
        "properties": record.properties,
        "checksum": record.checksum,
        "depends_on": record.depends_on,
        "state": record.state,
        "error": record.error,
        "task": record.task,
        "read": record.probe,
    }
