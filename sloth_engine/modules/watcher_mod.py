"""`watcher.register.*`: watch files, processes, ports, services, CPU, memory or a custom check
while the task runs, and react to what happens.

    local id = watcher.register.file({ file_path = "/etc/app.conf", when = { "changed", "deleted" },
                                       check_hash = true, interval = "1s",
                                       handler = function(ev) log.info(ev.condition) end })

Kinds and their conditions: `file` {file_path; created, changed, deleted; check_hash},
`process` {process_name; created, deleted}, `port` {port; opened, closed (a TCP connect to
127.0.0.1, or `host`)}, `service` {service_name; started, stopped, changed}, `cpu` and `memory`
{threshold percent; above, below}, `custom` {check = function() return bool[, data] end;
`when` optional: fires when check turns true}. `interval` is seconds or a duration ("500ms",
default 5s). Each returns the watcher's id; `watcher.stop(id)` ends one.

A watcher is a goroutine of the task (the original registered them with the agent, for good):
it checks at each interval and, for each condition in `when` that happened since the last
check, sends the event `watcher.<kind>` `{id, kind, condition, ...}` (hooks receive it) and
calls `handler(event)` if given. The first check only takes the baseline, except `cpu`,
`memory` and `custom`, which fire at once when their condition already holds. Like every
goroutine it runs when the task lets the scheduler run (goroutine.sleep, wg:wait, channel
operations...), and it stops when the task ends.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import socket
from typing import Any

from sloth_engine import process
from sloth_engine.durations import parse_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv

MIN_INTERVAL = 0.05
DEFAULT_INTERVAL = 5.0
KINDS = {
    "file": ("file_path", ("created", "changed", "deleted")),
    "process": ("process_name", ("created", "deleted")),
    "port": ("port", ("opened", "closed")),
    "service": ("service_name", ("started", "stopped", "changed")),
    "cpu": ("threshold", ("above", "below")),
    "memory": ("threshold", ("above", "below")),
    "custom": ("check", ("triggered",)),
}

_GLUE = r"""
local probe, spawn, sleep, dispatch = ...
local type, pcall, ipairs, tostring, error = type, pcall, ipairs, tostring, error
local stopped = {}
local register = {}
for _, kind in ipairs({ "file", "process", "port", "service", "cpu", "memory", "custom" }) do
  register[kind] = function(config)
    if type(config) ~= "table" then error("watcher.register." .. kind .. ": expected a table", 2) end
    local handler = config.handler or config.on_event
    local custom = config.check
    local ok, id, interval = pcall(probe, "new", kind, config)
    if not ok then error(id, 2) end
    spawn(function()
      while not stopped[id] do
        local fired
        if kind == "custom" then
          local held, data = custom()
          fired = probe("custom", id, held, data)
        else
          fired = probe("check", id)
        end
        for _, ev in ipairs(fired or {}) do
          if stopped[id] then break end
          dispatch("watcher." .. kind, ev)
          if handler then handler(ev) end
        end
        sleep(interval * 1000)
      end
    end)
    return id
  end
end
local function stop(id) if id == nil then return false end stopped[id] = true return probe("stop", id) end
return register, stop
"""


class Watch:
    """One watcher's configuration and what it saw last."""

    def __init__(self, ident: str, kind: str, config: dict[str, Any]) -> None:
        self.id, self.kind, self.config = ident, kind, config
        self.when = _conditions(kind, config.get("when"))
        self.last: Any = None
        self.first = True

    def event(self, condition: str, **data: Any) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "condition": condition, **data}


def _conditions(kind: str, when: Any) -> list[str]:
    allowed = KINDS[kind][1]
    if when is None:
        if kind == "custom":
            return ["triggered"]
        raise ModuleError(f"watcher.register.{kind}: when is required (e.g. {{'{allowed[0]}'}})")
    items = [when] if isinstance(when, str) else when if isinstance(when, list) else None
    if not items or any(c not in allowed for c in items):
        raise ModuleError(
            f"watcher.register.{kind}: when must name some of {', '.join(allowed)}, got {when!r}"
        )
    return [str(c) for c in items]


def _file_state(watch: Watch) -> Any:
    path = str(watch.config["file_path"])
    try:
        info = os.stat(path)
    except OSError:
        return None
    if watch.config.get("check_hash") and os.path.isfile(path):
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    return (info.st_mtime_ns, info.st_size)


def _transitions(watch: Watch, now: Any, on: str, off: str, changed: str | None = None) -> list[str]:
    before, watch.last = watch.last, now
    if watch.first:
        watch.first = False
        return []
    if before is None and now is not None:
        return [on]
    if before is not None and now is None:
        return [off]
    if changed and before != now:
        return [changed]
    return []


def _process_running(name: str) -> bool:
    import psutil

    return any(p.info.get("name") == name for p in psutil.process_iter(["name"]))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _service_state(name: str) -> str | None:
    if shutil.which("systemctl") is None:
        raise ModuleError("watcher.register.service: systemctl is not installed on this machine")
    try:
        done = process.run(["systemctl", "is-active", name], timeout=10)
    except OSError as exc:
        raise ModuleError(f"watcher.register.service: cannot run systemctl: {exc}") from None
    state = done.stdout.strip() or "unknown"
    return state


def _threshold(watch: Watch, usage: float) -> list[str]:
    threshold = float(watch.config["threshold"])
    now = "above" if usage > threshold else "below"
    before, watch.last = watch.last, now
    watch.first = False
    return [now] if now != before else []


def check(watch: Watch) -> list[dict[str, Any]]:
    """The events of `watch` since its last check (the conditions it asked for)."""
    cfg, kind = watch.config, watch.kind
    if kind == "file":
        happened = _transitions(watch, _file_state(watch), "created", "deleted", "changed")
        extra: dict[str, Any] = {"path": str(cfg["file_path"])}
    elif kind == "process":
        happened = _transitions(
            watch, _process_running(str(cfg["process_name"])) or None, "created", "deleted"
        )
        extra = {"process_name": str(cfg["process_name"])}
    elif kind == "port":
        open_now = _port_open(str(cfg.get("host") or "127.0.0.1"), int(cfg["port"]))
        happened = _transitions(watch, open_now or None, "opened", "closed")
        extra = {"port": int(cfg["port"])}
    elif kind == "service":
        state = _service_state(str(cfg["service_name"]))
        before = watch.last
        happened = _transitions(watch, state, "started", "stopped", "changed")
        if happened == ["changed"]:
            happened = ["started"] if state == "active" else ["stopped"] if before == "active" else []
            happened.append("changed")
        extra = {"service_name": str(cfg["service_name"]), "state": state}
    else:
        import psutil

        usage = psutil.cpu_percent(interval=None) if kind == "cpu" else psutil.virtual_memory().percent
        happened = _threshold(watch, float(usage))
        extra = {"usage": float(usage), "threshold": float(cfg["threshold"])}
    return [watch.event(c, **extra) for c in happened if c in watch.when]


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    watches: dict[str, Watch] = {}
    serial = itertools.count(1)

    def probe(action: str, key: Any, config: Any = None, data: Any = None) -> Any:
        if action == "custom":
            return check_custom(str(key), bool(config), data)
        if action == "new":
            kind = str(key)
            required = KINDS[kind][0]
            opts = sandbox.to_py(config, keep_functions=True) if config is not None else {}
            if not isinstance(opts, dict) or opts.get(required) is None and kind != "custom":
                raise ModuleError(f"watcher.register.{kind}: {required} is required")
            made = Watch(f"{kind}-{next(serial)}", kind, opts)
            watches[made.id] = made
            return made.id, _interval(kind, opts.get("interval"))
        if action == "stop":
            return watches.pop(str(key), None) is not None
        found = watches.get(str(key))
        return check(found) if found is not None else []

    def check_custom(ident: str, held: bool, data: Any) -> list[dict[str, Any]]:
        watch = watches.get(ident)
        if watch is None:
            return []
        before, watch.last = watch.last, held
        if held and not before:
            payload = sandbox.to_py(data, keep_functions=False) if data is not None else None
            return [watch.event("triggered", data=payload)]
        return []

    goroutine = sandbox.globals()["goroutine"]
    dispatch = sandbox.globals()["event"]["dispatch"]
    register, stop = sandbox.run_lua(
        _GLUE,
        "watcher",
        sandbox.function(probe, raw_args=True),
        goroutine["spawn"],
        goroutine["sleep"],
        dispatch,
    )
    table = sandbox.set_module("watcher", {})
    table["register"] = register
    table["stop"] = stop


def _interval(kind: str, value: Any) -> float:
    if value is None:
        return DEFAULT_INTERVAL
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ModuleError(f"watcher.register.{kind}: interval: {exc}") from None
    return max(MIN_INTERVAL, seconds)
