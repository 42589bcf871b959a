"""The original tool's result shape for changing functions: `local ok, res = pkg.install{...}`.

The original's pkg, systemd and file_ops functions return `true, result` (or `false, error`);
this project's return one result table (and raise on failure). Returning the table twice
serves both: `local r = pkg.install(...)` gets the table, and `local ok, res = ...` gets a
truthy `ok` and `res.changed`. A failure still raises (the task fails with the message)
rather than returning `false, error`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sloth_engine.lua.sandbox import Sandbox

_TWICE_LUA = """
local fn = ...
return function(...)
  local r = fn(...)
  return r, r
end
"""


def results_twice(sandbox: Sandbox, table: Any, names: Iterable[str]) -> None:
    """Make each of `table`'s functions `names` return its result twice."""
    for name in names:
        table[name] = sandbox.run_lua(_TWICE_LUA, "original_shape", table[name])
