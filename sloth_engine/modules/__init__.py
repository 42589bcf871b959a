"""The Lua modules a workflow sees as globals (exec, fs, log, json, ...).

Each module is a Python file with `install(sandbox, env)`; `install_all` installs them in a
fixed order into a fresh sandbox. Module functions run in the thread of the task that calls
them, so they may block; anything that can run long must poll `sandbox.guard.check()` so a
timeout or a cancel stops it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox

if TYPE_CHECKING:
    from sloth_engine.store import Store

MODULE_NAMES = (
    "log",
    "exec",
    "fs",
    "data",
    "strings",
    "time",
    "crypto",
    "template",
    "facts",
    "goroutine",
    "event",
    "state",
    "stack",
    "secrets",
    "file_ops",
    "infra_test",
    "pkg",
    "systemd",
    "git",
    "docker",
    "http",
    "net",
    "metrics",
    "watcher",
    "cron",
    "sysctl",
    "reliability",
    "notifications",
    "db",
    "terraform",
    "kubernetes",
    "helm",
    "user",
    "ssh",
    "firewall",
    "stow",
    "lvm",
    "raid",
    "nfs",
    "smb",
    "network",
    "incus",
    "gitops",
    "ai",
)


@dataclass
class ModuleEnv:
    """What the modules may reach outside the sandbox, given by whoever creates the runtime."""

    base_dir: Path = field(default_factory=Path.cwd)
    """Folder of the workflow file: relative paths in import/template resolve against it."""
    values: dict[str, Any] = field(default_factory=dict)
    emit_event: Callable[[str, dict[str, Any]], None] = lambda kind, data: None
    """Receives `event.dispatch(type, data)` calls."""
    store: Store | None = None
    """The open store (state module), or None where there is none."""
    port: Any = None
    """sloth_engine.store_port.StorePort the `state` and `stack` modules use: given by an agent
    (calls forwarded to the master); None means the open `store`'s own port."""
    namespace: str = "default"
    """Default state namespace: the workflow's stack."""
    stack: str | None = None
    """The stack the run belongs to (the `stack` module's resources and outputs), if any."""
    check_mode: bool = False
    """`--check`: modules report what would change without changing it."""
    show_diff: bool = False
    """`--diff`: modules that change a file's content write its unified diff (sloth_engine.changes)."""
    agent_facts: Callable[[str], dict[str, Any]] | None = None
    """Another machine's facts by agent name (KeyError if unknown); None without a master."""
    secrets: dict[str, str] = field(default_factory=dict)
    """The secrets granted to the run (config.secrets), as the `secrets` global shows them."""
    files: dict[str, str] | None = None
    """The run's bundle (an agent): `import`/`require` read these texts by relative path, never
    the disk. None: they read the workflow's folder."""
    secrets_of: Callable[[str], dict[str, str]] | None = None
    """The secrets granted to a run by run id (an agent running attempts of several runs);
    None: `secrets` holds them."""
    events_via_output: bool = False
    """`event.dispatch` writes the event on the task's output (an agent: it travels to the
    master with the task's lines) instead of calling `emit_event`."""

    def store_port(self) -> Any:
        """The StorePort to use, or None: this runtime reaches no store."""
        if self.port is None and self.store is not None:
            # lazy: the stack repositories behind the port (~3 ms) load when a task first
            # reaches the store, not for every command that builds a ModuleEnv
            from sloth_engine.store_port import local_port

            self.port = local_port(self.store)
        return self.port


def configuration_error(sandbox: Sandbox, text: str) -> ModuleError:
    """The error of a module that cannot work where the task runs (no store, a secret not
    granted): marked on the call's guard, so the attempt ends as final and is not retried."""
    sandbox.guard.config_error = text
    return ModuleError(text)


GLOBALS = {name: name for name in MODULE_NAMES} | {"json": "data", "yaml": "data", "pulumi": "terraform"}
"""Each global a workflow sees, and the module that installs it."""


def install_all(sandbox: Sandbox, env: ModuleEnv) -> None:
    """Make every module available; each is installed when a workflow first uses it."""
    installed: set[str] = set()

    def install(global_name: str) -> None:
        module_name = GLOBALS[global_name]
        if module_name in installed:
            return
        installed.add(module_name)
        module = importlib.import_module(f"sloth_engine.modules.{module_name}_mod")
        module.install(sandbox, env)

    sandbox.lazy_globals(list(GLOBALS), install)
