"""Small records a module keeps between calls (gitops' repositories and workflows, ai's task
history): in the run's store under a namespace of the state table when there is one (so a
later task, another run or an agent through its master sees them), else in this runtime."""

from __future__ import annotations

from typing import Any

from sloth_engine.modules import ModuleEnv


class Records:
    def __init__(self, env: ModuleEnv, namespace: str) -> None:
        self.env, self.namespace = env, namespace
        self.memory: dict[str, Any] = {}

    def _state(self) -> Any:
        port = self.env.store_port()
        return port.state if port is not None else None

    def get(self, key: str) -> Any:
        state = self._state()
        return self.memory.get(key) if state is None else state.get(self.namespace, key)

    def put(self, key: str, value: Any) -> None:
        state = self._state()
        if state is None:
            self.memory[key] = value
        else:
            state.set(self.namespace, key, value)

    def keys(self, prefix: str = "") -> list[str]:
        state = self._state()
        if state is None:
            return sorted(k for k in self.memory if k.startswith(prefix))
        return sorted(state.keys(self.namespace, prefix))
