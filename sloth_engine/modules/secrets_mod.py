"""`secrets`: the secret values granted to this run, read-only (`secrets.db_password`).

A workflow is granted what its `config.secrets = { "db_password" }` names, decrypted when the
run starts; reading any other name is an error. While the file is only being loaded (no run
yet) every name reads as nil, so read secrets inside task functions, not at the top level.
Values are hidden (`***`) wherever the run writes or announces text.
"""

from __future__ import annotations

from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, configuration_error

_PROXY = """
local get = ...
return setmetatable({}, {
  __index = function(_, name) return get(name) end,
  __newindex = function() error("secrets are read-only", 2) end,
  __metatable = false,
})
"""


def granted(sandbox: Sandbox, env: ModuleEnv) -> dict[str, str]:
    """The secrets granted to the run of the task running now (an agent holds them by run)."""
    return env.secrets if env.secrets_of is None else env.secrets_of(sandbox.scope.run_id)


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def get(name: Any = None) -> str | None:
        if not isinstance(name, str):
            raise ModuleError("secrets: a secret's name is a string")
        held = granted(sandbox, env)
        if name in held:
            return held[name]
        if held:
            text = f"secret '{name}' is not granted to this workflow (add it to config.secrets)"
            raise configuration_error(sandbox, text)
        return None

    sandbox.globals()["secrets"] = sandbox.run_lua(_PROXY, "secrets", sandbox.function(get))
