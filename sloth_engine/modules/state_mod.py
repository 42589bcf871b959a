"""`state`: durable workflow state and leases, shared by every run on the same store.

    state.set(key, value[, ttl])          state.get(key[, default])     state.delete(key)
    state.exists(key)                     state.keys([prefix or glob])  state.increment(key[, delta])
    state.compare_and_swap(key, old, new) -- old nil: only if absent; returns true/false
    state.set_with_ttl(key, value, ttl)   -- ttl in seconds or a duration: "30s", "5m"
    local h, who = state.lock(name[, {ttl=, wait=, reason=, holder=}])  -- h.token; h:unlock(); h:renew(ttl)
    state.try_lock(name[, ttl])           state.unlock(name or handle)
    state.with_lock(name, fn[, {ttl=, wait=}])  -- fn's results; released even when fn raises
    state.namespace("team-a")             -- the same API on another namespace

Values keep their Lua type (string, integer, float, boolean, nested table) and may be at most
1 MiB of JSON; a function, a cyclic table or a larger value is an error naming the key and
writes nothing. Setting nil deletes. The default namespace is the workflow's stack; lock names
are store-wide (not namespaced), so the CLI and every workflow see the same locks. The default
holder is "RUN_ID:TASK". `lock` waits `wait` (default 0; a bare number is the wait, as in the
original) and holds for `ttl` (default 60s) unless renewed; `with_lock` waits up to 300s by
default and renews the lease while fn runs. Waiting stops at the task's timeout or cancel.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from fnmatch import fnmatchcase
from typing import Any

from sloth_engine.errors import LockHeld, SlothError
from sloth_engine.lua.sandbox import LuaError, ModuleError, Sandbox, lua_type
from sloth_engine.modules import ModuleEnv

DEFAULT_LOCK_TTL = 60.0
DEFAULT_WITH_LOCK_WAIT = 300.0

_SHIM = """
local py_lock, py_unlock, py_renew, py_with_lock = ...
local pack, unpack, setmetatable = table.pack, table.unpack, setmetatable
local methods = {}
function methods:unlock() return py_unlock(self) end
function methods:renew(ttl)
  local status, value = py_renew(self.name, self.token, ttl)
  if status == "error" then error(value, 2) end
  if status == "lost" then return false, value end
  self.expires_at = value
  return true
end
local handle_mt = { __index = methods }
local function grant(name, status, a, b, c)
  if status == "error" then error(a, 2) end
  if status == "held" then return nil, a end
  return setmetatable({ name = name, holder = a, token = b, expires_at = c }, handle_mt)
end
local function lock(name, opts) return grant(name, py_lock(name, opts)) end
local function try_lock(name, ttl) return grant(name, py_lock(name, { ttl = ttl })) end
local function with_lock(name, fn, opts)
  if type(fn) ~= "function" then
    error("state.with_lock: the second argument must be a function", 2)
  end
  local r = pack(py_with_lock(name, fn, opts))
  if r[1] == "ok" then return unpack(r, 2, r.n) end
  if r[1] == "raise" then error(r[2], 0) end
  error(r[2], 2)
end
return lock, try_lock, with_lock
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    api = _StateApi(sandbox, env)
    unlock = sandbox.function(api.unlock)
    lock, try_lock, with_lock = sandbox.run_lua(
        _SHIM,
        "state",
        sandbox.function(api.lock, raw_args=True),
        unlock,
        sandbox.function(api.renew),
        sandbox.function(api.with_lock, raw_args=True),
    )
    shared = {"lock": lock, "try_lock": try_lock, "unlock": unlock, "with_lock": with_lock}

    def namespace(name: Any = None) -> Any:
        if not isinstance(name, str) or not name:
            raise ModuleError("state.namespace: expected a non-empty namespace name")
        return _table(sandbox, api, name, shared)

    shared["namespace"] = sandbox.function(namespace)
    sandbox.globals()["state"] = _table(sandbox, api, env.namespace or "default", shared)


def _table(sandbox: Sandbox, api: _StateApi, ns: str, shared: dict[str, Any]) -> Any:
    """The `state` table for namespace `ns`."""
    table = sandbox.lua.table()
    plain = {
        "get": lambda key=None, default=None: api.get(ns, key, default),
        "delete": lambda key=None: api.call(lambda st, k: st.delete(ns, k), key),
        "exists": lambda key=None: api.call(lambda st, k: st.exists(ns, k), key),
        "keys": lambda pattern=None: api.keys(ns, pattern),
        "increment": lambda key=None, delta=1: api.increment(ns, key, delta),
    }
    for name, fn in plain.items():
        table[name] = sandbox.function(fn)
    raw = {
        "set": lambda key=None, value=None, ttl=None: api.set(ns, key, value, ttl),
        "set_with_ttl": lambda key=None, value=None, ttl=None: api.set(ns, key, value, ttl, True),
        "compare_and_swap": lambda key=None, old=None, new=None: api.cas(ns, key, old, new),
    }
    for name, fn in raw.items():
        table[name] = sandbox.function(fn, raw_args=True)
    for name, fn in shared.items():
        table[name] = fn
    return table


class _StateApi:
    """The Python side of the module: argument checks, conversions, errors as Lua errors."""

    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self._sandbox = sandbox
        self._env = env

    @property
    def store(self) -> Any:
        if self._env.store is None:
            raise ModuleError("state needs a store (this runtime was started without one)")
        return self._env.store.state

    def holder(self) -> str:
        scope = self._sandbox.scope
        if scope.run_id or scope.task_name:
            return f"{scope.run_id}:{scope.task_name}"
        return f"lua:{os.getpid()}"

    def call(self, fn: Callable[[Any, str], Any], key: Any) -> Any:
        state = self.store
        key = _key(key)
        try:
            return fn(state, key)
        except SlothError as exc:
            raise ModuleError(str(exc)) from None

    def get(self, ns: str, key: Any, default: Any) -> Any:
        return self.call(lambda st, k: st.get(ns, k, default), key)

    def keys(self, ns: str, pattern: Any) -> list[str]:
        """Keys starting with `pattern`, or matching it as a glob when it has * ? or [."""
        text = "" if pattern is None else str(pattern)
        cut = min((i for i, ch in enumerate(text) if ch in "*?["), default=len(text))
        try:
            keys = self.store.keys(ns, text[:cut])
        except SlothError as exc:
            raise ModuleError(str(exc)) from None
        return keys if cut == len(text) else [k for k in keys if fnmatchcase(k, text)]

    def increment(self, ns: str, key: Any, delta: Any) -> Any:
        return self.call(lambda st, k: st.increment(ns, k, delta, owner=self.holder()), key)

    def set(self, ns: str, key: Any, value: Any, ttl: Any, ttl_required: bool = False) -> bool:
        name = _key(key)
        if ttl_required and ttl is None:
            raise ModuleError(f"state.set_with_ttl: key '{name}': a ttl is required")
        data = self._data(name, value)
        self.call(lambda st, k: st.set(ns, k, data, ttl=ttl, owner=self.holder()), name)
        return True

    def cas(self, ns: str, key: Any, old: Any, new: Any) -> bool:
        name = _key(key)
        expected, data = self._data(name, old), self._data(name, new)
        return self.call(lambda st, k: st.compare_and_swap(ns, k, expected, data, owner=self.holder()), name)

    def _data(self, key: str, value: Any) -> Any:
        try:
            return self._sandbox.to_py(value, keep_functions=False)
        except ModuleError as exc:
            raise ModuleError(f"state key '{key}': {exc}, nothing was stored") from None

    # ---- locks (answers for the Lua shim: a status first, never an exception) ----------

    def lock(self, name: Any, opts: Any = None) -> tuple[Any, ...]:
        try:
            ttl, wait, reason, holder = self._lock_options(name, opts, 0.0)
            grant = self.store.lock(name, holder, ttl, wait, reason, stop=self._sandbox.guard.check)
        except LockHeld as exc:
            return ("held", f"held by {exc.holder}")
        except (SlothError, ModuleError, ValueError) as exc:
            return ("error", str(exc))
        return ("ok", grant.holder, grant.token, grant.expires_at)

    def renew(self, name: Any, token: Any, ttl: Any = None) -> tuple[Any, ...]:
        try:
            grant = self.store.renew(str(name), int(token), DEFAULT_LOCK_TTL if ttl is None else ttl)
        except (SlothError, ModuleError, ValueError, TypeError) as exc:
            return ("error", str(exc))
        if grant is None:
            return ("lost", f"lock '{name}' is no longer held with token {token}")
        return ("ok", grant.expires_at)

    def unlock(self, target: Any = None) -> bool:
        state = self.store
        try:
            if isinstance(target, dict):
                return bool(state.unlock(str(target.get("name")), int(target.get("token") or 0)))
            if isinstance(target, str) and target:
                return bool(state.unlock(target, self.holder()))
        except SlothError as exc:
            raise ModuleError(str(exc)) from None
        raise ModuleError("state.unlock: expected a lock name or the handle state.lock returned")

    def with_lock(self, name: Any, fn: Any, opts: Any = None) -> tuple[Any, ...]:
        # The pcall happens here, in Python: after a task timeout the guard fails every Lua
        # instruction, so a Lua-side cleanup would never run, while this ExitStack always does.
        with ExitStack() as held:
            try:
                ttl, wait, reason, holder = self._lock_options(name, opts, DEFAULT_WITH_LOCK_WAIT)
                stop = self._sandbox.guard.check
                held.enter_context(self.store.hold(name, holder, ttl, wait, reason, stop=stop))
            except (SlothError, ModuleError, ValueError) as exc:
                return ("error", f"state.with_lock: {exc}")
            try:
                result = fn()
            except LuaError as exc:
                return ("raise", str(exc).split("\nstack traceback:", 1)[0])
        return ("ok", *result) if isinstance(result, tuple) else ("ok", result)

    def _lock_options(self, name: Any, opts: Any, wait_default: float) -> tuple[Any, Any, str, str]:
        if not isinstance(name, str) or not name:
            raise ModuleError("a lock needs a non-empty name")
        if opts is None or isinstance(opts, (int, float, str)):
            wait = wait_default if opts is None else opts
            return DEFAULT_LOCK_TTL, wait, "", self.holder()
        if lua_type(opts) != "table":
            raise ModuleError(f"lock '{name}': options must be a table {{ttl=, wait=}}")
        options = self._sandbox.to_py(opts, keep_functions=False)
        if not isinstance(options, dict):
            raise ModuleError(f"lock '{name}': options must be a table {{ttl=, wait=}}")
        ttl = options.get("ttl") if options.get("ttl") is not None else DEFAULT_LOCK_TTL
        wait = options.get("wait") if options.get("wait") is not None else wait_default
        holder = str(options.get("holder") or self.holder())
        return ttl, wait, str(options.get("reason") or ""), holder


def _key(key: Any) -> str:
    if isinstance(key, bool) or not isinstance(key, (str, int, float)) or key == "":
        raise ModuleError(f"state: a key must be a non-empty string, got {key!r}")
    return key if isinstance(key, str) else str(key)
