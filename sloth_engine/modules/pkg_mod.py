"""`pkg`: install and remove system packages with the machine's own package manager.

The manager is detected (apt, dnf, yum, apk, pacman: see `system_packages`) or named with
`manager = "apt"`. Functions take a name, a list of names or one table (the original's other
functions, search/info/deps/list/clean/autoremove/install_local/which/get_manager, are in
pkg_more):

- `pkg.install(names[, {state = "present"|"latest", update_cache = true}])`: installs what is
  missing (`latest`: also upgrades); nothing to do is `changed = false` and runs nothing
- `pkg.remove(names[, {purge = true}])`: removes what is installed
- `pkg.update()`: refreshes the package lists (always `changed = true`)
- `pkg.upgrade()`: upgrades everything (always `changed = true`: not every manager says
  whether anything was upgraded)
- `pkg.is_installed(name)` -> boolean; `pkg.version(name)` -> the version or nil (both also
  take the original's `{package = name}`);
  `pkg.manager()` -> "apt" | "dnf" | "yum" | "apk" | "pacman"

Changing functions return `{changed, stdout, stderr, exit_code, packages}` (`packages`: those
acted on), twice, so the original's `local ok, res = pkg.install({packages = {...}})` works
(see original_shape). A failing command raises a Lua error naming the command, its exit code and its
last lines of output, unless `ignore_errors = true` (then the result says `exit_code`).
`check = true` (or the run's check mode) reports what would change and runs nothing that
changes the machine. `sudo = true` prefixes `sudo -n`; agents usually run as root instead.
"""

from __future__ import annotations

from typing import Any

from sloth_engine.changes import note_change
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, flag, gather, is_check, names, text, timeout
from sloth_engine.modules.original_shape import results_twice
from sloth_engine.modules.pkg_more import MorePackages
from sloth_engine.modules.proc import Completed, failure, find_tool, run_process
from sloth_engine.modules.system_packages import APT_ENV, Manager, detect, installed_version

DEFAULT_TIMEOUT = 1800.0


class Packages:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def manager_of(self, where: str, opts: dict[str, Any]) -> Manager:
        manager = detect(where, text(opts, "manager"))
        find_tool(manager.tool, where)
        return manager

    def run(
        self, where: str, manager: Manager, verb: tuple[str, ...], items: list[str], opts: dict[str, Any]
    ) -> Completed:
        argv = [manager.tool, *verb, *items]
        if flag(opts, "sudo"):
            argv = [find_tool("sudo", where), "-n", *argv]
        extra = APT_ENV if manager.name == "apt" else None
        done = run_process(self.sandbox, argv, env=environment(extra), timeout=timeout(opts, DEFAULT_TIMEOUT))
        if done.exit_code != 0 and not flag(opts, "ignore_errors"):
            raise failure(where, argv, done)
        return done

    def _result(self, changed: bool, done: Completed | None, acted: list[str]) -> dict[str, Any]:
        if changed:  # done is None: check mode reported it without running anything
            note_change(self.sandbox.scope.log, done is None, f"pkg {' '.join(acted) or 'packages'}")
        out = {"changed": changed, "packages": acted, "stdout": "", "stderr": "", "exit_code": 0}
        if done is not None:
            out.update(stdout=done.stdout, stderr=done.stderr, exit_code=done.exit_code)
            out["changed"] = changed and done.exit_code == 0
        return out

    def install(self, *args: Any) -> dict[str, Any]:
        where = "pkg.install"
        opts = gather(where, args, ("name",))
        wanted = names(where, opts.get("name", opts.get("names", opts.get("packages"))))
        manager = self.manager_of(where, opts)
        state = opts.get("state", "present")
        if state not in ("present", "installed", "latest"):
            raise ModuleError(f"{where}: state must be 'present' or 'latest', got {state!r}")
        if state == "latest":
            missing = wanted  # only the manager knows whether a newer version exists
        else:
            missing = [n for n in wanted if _version(self, manager, n, where) is None]
        if not missing:
            return self._result(False, None, [])
        if is_check(self.env, opts):
            return self._result(True, None, missing)
        if flag(opts, "update_cache"):
            self.run(where, manager, manager.update, [], opts)
        verb = manager.latest if state == "latest" else manager.install
        done = self.run(where, manager, verb, missing, opts)
        return self._result(True, done, missing)

    def remove(self, *args: Any) -> dict[str, Any]:
        where = "pkg.remove"
        opts = gather(where, args, ("name",))
        wanted = names(where, opts.get("name", opts.get("names", opts.get("packages"))))
        manager = self.manager_of(where, opts)
        present = [n for n in wanted if _version(self, manager, n, where) is not None]
        if not present:
            return self._result(False, None, [])
        if is_check(self.env, opts):
            return self._result(True, None, present)
        verb = manager.purge if flag(opts, "purge") else manager.remove
        return self._result(True, self.run(where, manager, verb, present, opts), present)

    def update(self, *args: Any) -> dict[str, Any]:
        opts = gather("pkg.update", args, ())
        manager = self.manager_of("pkg.update", opts)
        if is_check(self.env, opts):
            return self._result(True, None, [])
        return self._result(True, self.run("pkg.update", manager, manager.update, [], opts), [])

    def upgrade(self, *args: Any) -> dict[str, Any]:
        opts = gather("pkg.upgrade", args, ())
        manager = self.manager_of("pkg.upgrade", opts)
        if is_check(self.env, opts):
            return self._result(True, None, [])
        return self._result(True, self.run("pkg.upgrade", manager, manager.upgrade, [], opts), [])

    def is_installed(self, *args: Any) -> bool:
        opts = gather("pkg.is_installed", args, ("name",))
        name = names("pkg.is_installed", opts.get("name", opts.get("package")))[0]
        return (
            _version(self, detect("pkg.is_installed", text(opts, "manager")), name, "pkg.is_installed")
            is not None
        )

    def version(self, *args: Any) -> str | None:
        opts = gather("pkg.version", args, ("name",))
        name = names("pkg.version", opts.get("name", opts.get("package")))[0]
        return _version(self, detect("pkg.version", text(opts, "manager")), name, "pkg.version")

    def manager(self, *args: Any) -> str:
        opts = gather("pkg.manager", args, ())
        return detect("pkg.manager", text(opts, "manager")).name


def _version(packages: Packages, manager: Manager, name: str, where: str) -> str | None:
    return installed_version(packages.sandbox, name, where, manager)


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    packages = Packages(sandbox, env)
    functions = {
        "install": packages.install,
        "remove": packages.remove,
        "update": packages.update,
        "upgrade": packages.upgrade,
        "is_installed": packages.is_installed,
        "version": packages.version,
        "manager": packages.manager,
    } | MorePackages(sandbox, env).functions()
    table = sandbox.set_module(
        "pkg", functions, blocking=frozenset(functions) - {"manager", "get_manager", "which"}
    )
    results_twice(sandbox, table, ("install", "remove", "update", "upgrade"))
