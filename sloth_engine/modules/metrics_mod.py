"""`metrics`: counters, gauges and histograms recorded from tasks into the run.

`metrics.counter(name[, value = 1[, labels]])`, `metrics.gauge(name, value[, labels])`,
`metrics.histogram(name, value[, labels])`, or one table (`metrics.counter({name = "deploys",
labels = {env = "prod"}})`; a histogram also takes `buckets = {0.1, 1, 10}`). Names follow
Prometheus (`[a-zA-Z_:][a-zA-Z0-9_:]*`), label values are text; a counter only goes up.
`metrics.timer(name, fn[, labels])` calls fn and records its duration in seconds as a
histogram, returning fn's results. Each function returns true.

Each call becomes a `metric.recorded` event of the run (see sloth_engine.workflow_metrics for
its data and for `WorkflowMetrics`, which adds the events up and renders them for Prometheus):
it lands in the store's events table and reaches the run's listeners and hooks. On an agent
(`ModuleEnv.events_via_output`) the event travels to the master with the task's output, as
`event.dispatch` does. A name keeps the kind it was first recorded with in a runtime.
The original's system readings, `get_custom`, `list_custom`, `alert` and `health_status` are
in metrics_system.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox, lua_type
from sloth_engine.modules import ModuleEnv, metrics_system
from sloth_engine.modules.event_mod import EVENT_STREAM
from sloth_engine.modules.options import gather
from sloth_engine.workflow_metrics import EVENT_TYPE, Kind

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _labels(where: str, value: Any) -> dict[str, str]:
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise ModuleError(f"{where}: labels must be a table of name = value")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _LABEL.match(key) or key.startswith("__"):
            raise ModuleError(f"{where}: invalid label name {key!r}")
        if isinstance(item, (dict, list)) or lua_type(item) is not None:
            raise ModuleError(f"{where}: label {key} must be a text or a number")
        out[key] = str(item).lower() if isinstance(item, bool) else str(item)
    return out


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    kinds: dict[str, Kind] = {}
    recorded = metrics_system.Recorded()

    def emit(kind: str, data: dict[str, Any]) -> None:
        if env.events_via_output:  # on an agent: the event travels to the master with the output
            sandbox.scope.log(EVENT_STREAM, json.dumps({"type": kind, "data": data}))
        else:
            env.emit_event(kind, data)

    def record(kind: Kind, args: tuple[Any, ...], default: float | None) -> bool:
        where = f"metrics.{kind}"
        opts = gather(where, args, ("name", "value", "labels"), tables=("labels",))
        name = opts.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ModuleError(f"{where}: invalid metric name {name!r} (letters, digits, _ and :)")
        value = opts.get("value", default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ModuleError(f"{where}: value must be a number, got {value!r}")
        if kind == "counter" and value < 0:
            raise ModuleError(f"{where}: a counter only goes up (got {value})")
        known = kinds.setdefault(name, kind)
        if known != kind:
            raise ModuleError(f"{where}: {name} is a {known}, not a {kind}")
        data: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "value": float(value),
            "labels": _labels(where, opts.get("labels")),
            "task": sandbox.scope.task_name,
        }
        if kind == "histogram" and opts.get("buckets"):
            buckets = opts["buckets"]
            if not isinstance(buckets, list) or not all(isinstance(b, (int, float)) for b in buckets):
                raise ModuleError(f"{where}: buckets must be a list of numbers")
            data["buckets"] = sorted(float(b) for b in buckets)
        recorded.note(kind, name, float(value), data["labels"])
        emit(EVENT_TYPE, data)
        return True

    def counter(*args: Any) -> bool:
        return record("counter", args, 1.0)

    def gauge(*args: Any) -> bool:
        return record("gauge", args, None)

    def histogram(*args: Any) -> bool:
        return record("histogram", args, None)

    extra = metrics_system.functions(recorded, lambda line: sandbox.scope.log("stderr", line), emit)
    module = sandbox.set_module(
        "metrics",
        {"counter": counter, "gauge": gauge, "histogram": histogram} | extra,
        blocking=metrics_system.BLOCKING,
    )
    clock = sandbox.function(lambda: time.perf_counter())
    timer = sandbox.run_lua(_TIMER_LUA, "metrics", module["histogram"], clock)
    module["timer"] = timer


_TIMER_LUA = """
local histogram, clock = ...
local pack, unpack = table.pack, table.unpack
return function(name, fn, labels)
  if type(fn) ~= "function" then error("metrics.timer(name, fn[, labels]): fn must be a function", 2) end
  local started = clock()
  local r = pack(pcall(fn))
  histogram(name, clock() - started, labels)
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end
"""
