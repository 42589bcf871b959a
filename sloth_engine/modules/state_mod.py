"""`state`: durable workflow state and leases, shared by every run on the same store.

    state.set(key, value[, ttl])          state.get(key[, default])     state.delete(key)
    state.exists(key)                     state.keys([prefix or glob])  state.increment(key[, delta])
    state.compare_and_swap(key, old, new) -- old nil: only if absent; returns true/false
    state.set_with_ttl(key, value, ttl)   -- ttl in seconds or a duration: "30s", "5m"
    local h, who = state.lock(name[, {ttl=, wait=, reason=, holder=}])  -- h.token; h:unlock(); h:renew(ttl)
    state.try_lock(name[, ttl])           state.unlock(name or handle)
    state.with_lock(name, fn[, {ttl=, wait=}])  -- fn's results; released even when fn raises
    state.namespace("team-a")             -- the same API on another namespace
    state.clear() -> true, removed        state.stats() -> {total_keys, total_size, namespace, backend}

Values keep their Lua type (string, integer, float, boolean, nested table) and may be at most
1 MiB of JSON; a function, a cyclic table or a larger value is an error naming the key and
writes nothing. Setting nil deletes. The default namespace is the workflow's stack; lock names
are store-wide (not namespaced), so the CLI and every workflow see the same locks. The default
holder is "RUN_ID:TASK". `lock` waits `wait` (default 0; a bare number is the wait, as in the
original) and holds for `ttl` (default 60s) unless renewed; `with_lock` waits up to 300s by
default and renews the lease while fn runs (until fn ends, or the task's time limit passes).

Values are checked and encoded on the Lua thread; the store calls themselves are blocking
calls (run on a worker thread while other tasks go on) on PostgreSQL, where each is a network
round trip, and inline on SQLite, where most take microseconds. Lock waits are always blocking.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from sloth_engine.errors import LockHeld, SlothError
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, configuration_error
from sloth_engine.modules.secrets_mod import granted
from sloth_engine.secrets import SECRET_REFUSED, holds_secret
from sloth_engine.store.values import Encoded, encode
from sloth_engine.store_port import Lease, StatePort, offered

DEFAULT_LOCK_TTL = 60.0
DEFAULT_WITH_LOCK_WAIT = 300.0

_SHIM = """
local py = ...
local pack, unpack, pairs, ipairs = table.pack, table.unpack, pairs, ipairs
local type, error, pcall = type, error, pcall
local methods = {}
function methods:unlock() return py.unlock(self) end
function methods:renew(ttl)
  local status, value = py.renew(self.name, self.token, ttl)
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
local shared = { unlock = py.unlock }
function shared.lock(name, opts) return grant(name, py.lock(name, opts)) end
function shared.try_lock(name, ttl) return grant(name, py.lock(name, { ttl = ttl })) end
function shared.with_lock(name, fn, opts)
  if type(fn) ~= "function" then error("state.with_lock: the second argument must be a function", 2) end
  local status, token = py.acquire(name, opts)
  if status ~= "ok" then error(token, 2) end
  local r = pack(pcall(fn))
  py.release(name, token)
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end
local function encoded(key, value)
  if value == nil then return nil end
  local text, kind = py.encode(key, value)
  if text == nil then error(kind, 3) end
  return text, kind
end
local make
make = function(ns)
  local t = {}
  for k, f in pairs(shared) do t[k] = f end
  function t.get(key, default) return py.get(ns, key, default) end
  function t.exists(key) return py.exists(ns, key) end
  function t.delete(key) return py.delete(ns, key) end
  function t.keys(pattern) return py.keys(ns, pattern) end
  function t.increment(key, delta) return py.increment(ns, key, delta) end
  function t.set(key, value, ttl)
    if value == nil then return py.delete(ns, key) end
    local text, kind = encoded(key, value)
    return py.set(ns, key, text, kind, ttl)
  end
  function t.set_with_ttl(key, value, ttl)
    if ttl == nil then error("state.set_with_ttl: a ttl is required", 2) end
    local text, kind = encoded(key, value)
    return py.set(ns, key, text, kind, ttl)
  end
  function t.compare_and_swap(key, old, new)
    local old_text, old_kind = encoded(key, old)
    local new_text, new_kind = encoded(key, new)
    return py.cas(ns, key, old_text, old_kind, new_text, new_kind)
  end
  function t.clear()  -- every key of this namespace (the original cleared its whole store)
    local removed = 0
    for _, key in ipairs(py.keys(ns)) do
      if py.delete(ns, key) then removed = removed + 1 end
    end
    return true, removed
  end
  function t.stats()
    local keys, size = py.keys(ns), 0
    for _, key in ipairs(keys) do
      local text = py.encode(key, py.get(ns, key))
      if text then size = size + #text end
    end
    return { total_keys = #keys, total_size = size, namespace = ns, backend = "sloth-runner" }
  end
  function t.namespace(name)
    if type(name) ~= "string" or name == "" then
      error("state.namespace: expected a non-empty namespace name", 2)
    end
    return make(name)
  end
  return t
end
return make
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    api = _StateApi(sandbox, env)
    port = env.store_port()
    on_pg = port is not None and port.blocking  # PostgreSQL or a master: each call waits
    store_calls = {"get", "exists", "delete", "keys", "increment", "set", "cas", "unlock", "renew", "release"}
    waits = {"lock", "acquire"}
    py = sandbox.lua.table()
    for name in store_calls | waits:
        fn = getattr(api, name)
        if name not in waits and name != "release":  # one port call each: awaitable on a loop
            fn = offered(fn, port)
        py[name] = sandbox.function(fn, blocking=name in waits or on_pg)
    py["encode"] = sandbox.function(api.encode, raw_args=True)
    make = sandbox.run_lua(_SHIM, "state", py)
    sandbox.globals()["state"] = make(env.namespace or "default")


class _StateApi:
    """The Python side: arguments checked, errors turned into Lua errors or status answers."""

    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self._sandbox = sandbox
        self._env = env
        self._kept: dict[int, Lease] = {}
        self._kept_lock = threading.Lock()  # acquire/release run on several worker threads

    @property
    def store(self) -> StatePort:
        port = self._env.store_port()
        if port is None:
            text = "state needs a store (this runtime was started without one)"
            raise configuration_error(self._sandbox, text)
        return port.state

    def holder(self) -> str:
        scope = self._sandbox.scope
        if scope.run_id or scope.task_name:
            return f"{scope.run_id}:{scope.task_name}"
        return f"lua:{os.getpid()}"

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(self.store)
        except SlothError as exc:
            raise ModuleError(str(exc)) from None

    # ---- values (on the Lua thread) --------------------------------------------------

    def encode(self, key: Any = None, value: Any = None) -> tuple[Any, Any]:
        """(json text, type) for a Lua value, or (nil, message naming the key)."""
        try:
            name = _key(key)
            data = self._sandbox.to_py(value, keep_functions=False)
            # on the machine running the task: local and through-the-master writes alike
            if holds_secret(data, granted(self._sandbox, self._env)):
                return None, f"state key '{name}': {SECRET_REFUSED}, nothing was stored"
            return encode(name, data)
        except ModuleError as exc:
            return None, f"state key '{key}': {exc}, nothing was stored"
        except SlothError as exc:
            return None, f"{exc}, nothing was stored"

    # ---- store calls ------------------------------------------------------------------

    def get(self, ns: str, key: Any = None, default: Any = None) -> Any:
        return self._call(lambda st: st.get(ns, _key(key), default))

    def exists(self, ns: str, key: Any = None) -> bool:
        return self._call(lambda st: st.exists(ns, _key(key)))

    def delete(self, ns: str, key: Any = None) -> bool:
        return self._call(lambda st: st.delete(ns, _key(key)))

    def keys(self, ns: str, pattern: Any = None) -> list[str]:
        """Keys starting with `pattern`, or matching it as a glob when it has * ? or [."""
        text = "" if pattern is None else str(pattern)
        cut = min((i for i, ch in enumerate(text) if ch in "*?["), default=len(text))
        keys = self._call(lambda st: st.keys(ns, text[:cut]))
        return keys if cut == len(text) else [k for k in keys if fnmatchcase(k, text)]

    def increment(self, ns: str, key: Any = None, delta: Any = 1) -> Any:
        step = 1 if delta is None else delta
        return self._call(lambda st: st.increment(ns, _key(key), step, owner=self.holder()))

    def set(self, ns: str, key: str, text: str, kind: Any, ttl: Any = None) -> bool:
        value = Encoded(text, kind)
        self._call(lambda st: st.set(ns, key, value, ttl=ttl, owner=self.holder()))
        return True

    def cas(
        self,
        ns: str,
        key: Any,
        old_text: Any = None,
        old_kind: Any = None,
        new_text: Any = None,
        new_kind: Any = None,
    ) -> bool:
        old = Encoded(old_text, old_kind) if old_text is not None else None
        new = Encoded(new_text, new_kind) if new_text is not None else None
        return self._call(lambda st: st.compare_and_swap(ns, _key(key), old, new, owner=self.holder()))

    # ---- locks (status answers for the shim: errors at the caller's line) --------------

    def lock(self, name: Any = None, opts: Any = None) -> tuple[Any, ...]:
        try:
            ttl, wait, reason, holder = self._lock_options(name, opts, 0.0)
            grant = self.store.lock(name, holder, ttl, wait, reason, stop=self._sandbox.guard.check)
        except LockHeld as exc:
            return ("held", f"held by {exc.holder}")
        except (SlothError, ModuleError, ValueError) as exc:
            return ("error", str(exc))
        return ("ok", grant.holder, grant.token, grant.expires_at)

    def renew(self, name: Any = None, token: Any = None, ttl: Any = None) -> tuple[Any, ...]:
        try:
            grant = self.store.renew(str(name), int(token), DEFAULT_LOCK_TTL if ttl is None else ttl)
        except (SlothError, ModuleError, ValueError, TypeError) as exc:
            return ("error", str(exc))
        if grant is None:
            return ("lost", f"lock '{name}' is no longer held with token {token}")
        return ("ok", grant.expires_at)

    def unlock(self, target: Any = None) -> bool:
        if isinstance(target, dict) and target.get("token") is not None:
            return self._call(lambda st: st.unlock(str(target.get("name")), int(target["token"])))
        if isinstance(target, str) and target:
            return self._call(lambda st: st.unlock(target, self.holder()))
        raise ModuleError("state.unlock: expected a lock name or the handle state.lock returned")

    def acquire(self, name: Any = None, opts: Any = None) -> tuple[Any, ...]:
        """with_lock's grant, kept alive until `release` (or until the task's limit passes)."""
        guard = self._sandbox.guard
        deadline = guard.deadline

        def stopped() -> str | None:
            if deadline is not None and time.monotonic() > deadline:
                return "time limit passed"
            return guard.check()

        try:
            ttl, wait, reason, holder = self._lock_options(name, opts, DEFAULT_WITH_LOCK_WAIT)
            grant = self.store.lock(name, holder, ttl, wait, reason, stop=guard.check)
            keeper = self.store.keep(grant, ttl, stop=stopped)
        except (SlothError, ModuleError, ValueError) as exc:
            return ("error", f"state.with_lock: {exc}")
        with self._kept_lock:
            self._kept = {t: k for t, k in self._kept.items() if not k.finished}
            self._kept[grant.token] = keeper
        return ("ok", grant.token)

    def release(self, name: Any = None, token: Any = None) -> bool:
        with self._kept_lock:
            keeper = self._kept.pop(int(token), None) if token is not None else None
        if keeper is None:
            return self._call(lambda st: st.unlock(str(name), int(token)))
        try:
            return keeper.release()
        except SlothError as exc:
            raise ModuleError(str(exc)) from None

    def _lock_options(self, name: Any, opts: Any, wait_default: float) -> tuple[Any, Any, str, str]:
        if not isinstance(name, str) or not name:
            raise ModuleError("a lock needs a non-empty name")
        if opts is None or isinstance(opts, (int, float, str)):
            return DEFAULT_LOCK_TTL, wait_default if opts is None else opts, "", self.holder()
        if not isinstance(opts, dict):
            raise ModuleError(f"lock '{name}': options must be a table {{ttl=, wait=}}")
        ttl = opts.get("ttl") if opts.get("ttl") is not None else DEFAULT_LOCK_TTL
        wait = opts.get("wait") if opts.get("wait") is not None else wait_default
        holder = str(opts.get("holder") or self.holder())
        return ttl, wait, str(opts.get("reason") or ""), holder


def _key(key: Any) -> str:
    if isinstance(key, bool) or not isinstance(key, (str, int, float)) or key == "":
        raise ModuleError(f"state: a key must be a non-empty string, got {key!r}")
    return key if isinstance(key, str) else str(key)
