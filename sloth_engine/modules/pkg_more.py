"""The original's other `pkg` functions, with its result shapes.

`search(query)`, `info(package)`, `deps(package)`, `clean()`, `autoremove()`,
`install_local(file)` return `true, output` or `false, message`; `list()` returns `true,
{names...}` (installed packages); `get_manager()` and `which(executable)` return `value, nil` or
`nil, message`. Each takes a string or the original's table (`{query = ...}`, `{package =
...}`, `{file = ...}`, `{executable = ...}`) with `manager`, `sudo` and `check` as for the
other pkg functions; in check mode, clean, autoremove and install_local say what they would run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, is_check, timeout, workdir_path
from sloth_engine.modules.proc import run_process
from sloth_engine.modules.system_packages import APT_ENV, Manager, detect

QUERIES: dict[str, dict[str, list[str]]] = {
    "search": {
        "apt": ["apt-cache", "search"],
        "dnf": ["dnf", "search"],
        "yum": ["yum", "search"],
        "apk": ["apk", "search"],
        "pacman": ["pacman", "-Ss"],
    },
    "info": {
        "apt": ["apt-cache", "show"],
        "dnf": ["dnf", "info"],
        "yum": ["yum", "info"],
        "apk": ["apk", "info", "-a"],
        "pacman": ["pacman", "-Si"],
    },
    "deps": {
        "apt": ["apt-cache", "depends"],
        "dnf": ["dnf", "repoquery", "--requires"],
        "yum": ["yum", "deplist"],
        "apk": ["apk", "info", "-R"],
        "pacman": ["pacman", "-Si"],
    },
    "list": {
        "apt": ["dpkg-query", "-W", "-f=${Package}\\n"],
        "dnf": ["rpm", "-qa", "--qf", "%{NAME}\\n"],
        "yum": ["rpm", "-qa", "--qf", "%{NAME}\\n"],
        "apk": ["apk", "info"],
        "pacman": ["pacman", "-Qq"],
    },
}
CHANGES: dict[str, dict[str, list[str]]] = {
    "clean": {
        "apt": ["apt-get", "clean"],
        "dnf": ["dnf", "clean", "all"],
        "yum": ["yum", "clean", "all"],
        "apk": ["apk", "cache", "clean"],
        "pacman": ["pacman", "-Sc", "--noconfirm"],
    },
    "autoremove": {
        "apt": ["apt-get", "autoremove", "-y"],
        "dnf": ["dnf", "autoremove", "-y"],
        "yum": ["yum", "autoremove", "-y"],
    },
    "install_local": {
        "apt": ["dpkg", "-i"],
        "dnf": ["dnf", "install", "-y"],
        "yum": ["yum", "install", "-y"],
        "apk": ["apk", "add", "--allow-untrusted"],
        "pacman": ["pacman", "-U", "--noconfirm"],
    },
}


def _options(value: Any, key: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {} if value is None else {key: value}


class MorePackages:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def _run(self, argv: list[str], opts: dict[str, Any], manager: Manager) -> tuple[int, str]:
        if shutil.which(argv[0]) is None:
            raise ModuleError(f"'{argv[0]}' is not installed on this machine (not found on PATH)")
        if opts.get("sudo"):
            argv = ["sudo", "-n", *argv]
        extra = APT_ENV if manager.name == "apt" else None
        done = run_process(self.sandbox, argv, env=environment(extra), timeout=timeout(opts, 1800.0))
        return done.exit_code, done.stdout + done.stderr

    def _call(self, what: str, value: Any, key: str | None, table: dict[str, dict[str, list[str]]]) -> Any:
        opts = _options(value, key or "_")
        try:
            manager = detect(f"pkg.{what}", opts.get("manager"))
            base = table[what].get(manager.name)
            if base is None:
                return False, f"{what} not available for {manager.name}"
            argv = list(base)
            if key is not None:
                target = opts.get(key) or opts.get("name")
                if not target:
                    return False, f"{key} parameter is required"
                argv.append(workdir_path(self.sandbox, str(target)) if key == "file" else str(target))
            if table is CHANGES and is_check(self.env, opts):
                return True, "would run: " + " ".join(argv)
            code, output = self._run(argv, opts, manager)
        except ModuleError as exc:
            return False, str(exc)
        if code != 0:
            return False, f"pkg.{what}: `{' '.join(argv)}` failed (exit {code})\n{output[-2000:]}"
        return True, output

    def list(self, value: Any = None) -> Any:
        ok, output = self._call("list", value, None, QUERIES)
        if not ok:
            return ok, output
        return True, [line.strip() for line in output.splitlines() if line.strip()]

    def get_manager(self, value: Any = None) -> Any:
        try:
            return detect("pkg.get_manager", _options(value, "manager").get("manager")).name, None
        except ModuleError as exc:
            return None, str(exc)

    def functions(self) -> dict[str, Callable[..., Any]]:
        def which(value: Any = None) -> Any:
            name = _options(value, "executable").get("executable")
            if not name:
                return None, "executable parameter is required"
            found = shutil.which(str(name))
            return (found, None) if found else (None, f"Executable not found: {name}")

        return {
            "search": lambda v=None: self._call("search", v, "query", QUERIES),
            "info": lambda v=None: self._call("info", v, "package", QUERIES),
            "deps": lambda v=None: self._call("deps", v, "package", QUERIES),
            "list": self.list,
            "get_manager": self.get_manager,
            "clean": lambda v=None: self._call("clean", v, None, CHANGES),
            "autoremove": lambda v=None: self._call("autoremove", v, None, CHANGES),
            "install_local": lambda v=None: self._call("install_local", v, "file", CHANGES),
            "which": which,
        }
