"""`systemd`: services through `systemctl`, idempotently.

- `systemd.create_service(name, {exec_start = ..., description, user, group,
  working_directory, environment = {K = "v"}, environment_file, restart = "on-failure",
  restart_sec, type = "simple", after = "network.target", wants, wanted_by =
  "multi-user.target", exec_stop, exec_reload, unit_dir = "/etc/systemd/system",
  daemon_reload = true})` writes `<unit_dir>/<name>.service` when its text differs (atomically)
  and then runs `systemctl daemon-reload`.
- `start`, `stop`: only when the unit is not already in that state (`systemctl is-active`).
- `enable`, `disable`: only when needed (`systemctl is-enabled`).
- `restart`, `reload`, `daemon_reload`: always act (`changed = true`).
- `remove_service(name)`: stops and disables when needed, deletes the unit file, reloads;
  `list_services({state})` and `show(name)` -> the original's `text, nil`.
- `status(name)` -> `{changed = false, active, enabled, running, stdout, stderr, exit_code}`;
  `is_active(name)`, `is_enabled(name)` -> boolean.

Each takes the unit name or one table (`systemd.start({name = "nginx"})`); `user = true`
works on the user's manager (`systemctl --user`). Changing functions return `{changed, stdout,
stderr, exit_code}` (twice: the original's `local ok, res = systemd.start(...)` works) and
raise a Lua error when systemctl fails (unless `ignore_errors =
true`); `check = true` (or the run's check mode) runs only the queries.
"""

from __future__ import annotations

import os
from typing import Any

from sloth_engine.changes import note_change
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes, write_atomic
from sloth_engine.modules.options import environment, flag, gather, is_check, need, text, timeout
from sloth_engine.modules.original_shape import results_twice
from sloth_engine.modules.proc import Completed, failure, find_tool, run_process

UNIT_DIR = "/etc/systemd/system"
ACTIVE = ("active", "activating", "reloading")
DEFAULT_TIMEOUT = 120.0


def unit_name(name: str) -> str:
    if "/" in name or not name.strip():
        raise ModuleError(f"systemd: invalid unit name {name!r}")
    return name if "." in name else f"{name}.service"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def unit_text(name: str, opts: dict[str, Any]) -> str:
    """The unit file for create_service's options."""
    exec_start = need("systemd.create_service", opts, "exec_start", "command")
    unit = [f"Description={opts.get('description') or name}"]
    for key, option in (("After", "after"), ("Wants", "wants"), ("Requires", "requires")):
        value = opts.get(option, "network.target" if option == "after" else None)
        if value:
            unit.append(f"{key}={_list(value)}")
    service = [f"Type={opts.get('type') or 'simple'}", f"ExecStart={exec_start}"]
    simple = (
        ("ExecStop", "exec_stop"),
        ("ExecReload", "exec_reload"),
        ("User", "user"),
        ("Group", "group"),
        ("WorkingDirectory", "working_directory"),
        ("EnvironmentFile", "environment_file"),
        ("RestartSec", "restart_sec"),
        ("LimitNOFILE", "limit_nofile"),
    )
    for key, option in simple:
        if opts.get(option) not in (None, ""):
            service.append(f"{key}={opts[option]}")
    service.append(f"Restart={opts.get('restart') or 'on-failure'}")
    variables = opts.get("environment") or {}
    if not isinstance(variables, dict):
        raise ModuleError("systemd.create_service: environment must be a table of NAME = value")
    for key in sorted(variables):
        service.append(f"Environment={_quote(f'{key}={variables[key]}')}")
    wanted_by = opts.get("wanted_by") or "multi-user.target"
    sections = [("Unit", unit), ("Service", service), ("Install", [f"WantedBy={_list(wanted_by)}"])]
    return "\n".join(f"[{title}]\n" + "\n".join(lines) + "\n" for title, lines in sections)


class Systemd:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def systemctl(self, where: str, opts: dict[str, Any], *words: str, must: bool = True) -> Completed:
        argv = [find_tool("systemctl", where)]
        if flag(opts, "user"):
            argv.append("--user")
        argv.extend(words)
        done = run_process(self.sandbox, argv, env=environment(), timeout=timeout(opts, DEFAULT_TIMEOUT))
        if must and done.exit_code != 0 and not flag(opts, "ignore_errors"):
            raise failure(where, argv, done)
        return done

    def _state(self, where: str, opts: dict[str, Any], query: str, unit: str) -> str:
        done = self.systemctl(where, opts, query, unit, must=False)
        return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"

    def _act(self, where: str, opts: dict[str, Any], needed: bool, verb: str, unit: str) -> dict[str, Any]:
        if not needed:
            return {"changed": False, "stdout": "", "stderr": "", "exit_code": 0}
        note_change(self.sandbox.scope.log, is_check(self.env, opts), f"systemd {verb} {unit}")
        if is_check(self.env, opts):
            return {"changed": True, "stdout": "", "stderr": "", "exit_code": 0}
        done = self.systemctl(where, opts, verb, unit)
        return {
            "changed": done.exit_code == 0,
            "stdout": done.stdout,
            "stderr": done.stderr,
            "exit_code": done.exit_code,
        }

    def _unit(self, where: str, args: tuple[Any, ...]) -> tuple[dict[str, Any], str]:
        opts = gather(where, args, ("name",))
        return opts, unit_name(need(where, opts, "name", "service", "unit"))

    def start(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.start", args)
        active = self._state("systemd.start", opts, "is-active", unit) in ACTIVE
        return self._act("systemd.start", opts, not active, "start", unit)

    def stop(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.stop", args)
        active = self._state("systemd.stop", opts, "is-active", unit) in ACTIVE
        return self._act("systemd.stop", opts, active, "stop", unit)

    def restart(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.restart", args)
        return self._act("systemd.restart", opts, True, "restart", unit)

    def reload(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.reload", args)
        return self._act("systemd.reload", opts, True, "reload", unit)

    def enable(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.enable", args)
        enabled = self._state("systemd.enable", opts, "is-enabled", unit) == "enabled"
        return self._act("systemd.enable", opts, not enabled, "enable", unit)

    def disable(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.disable", args)
        enabled = self._state("systemd.disable", opts, "is-enabled", unit) == "enabled"
        return self._act("systemd.disable", opts, enabled, "disable", unit)

    def daemon_reload(self, *args: Any) -> dict[str, Any]:
        opts = gather("systemd.daemon_reload", args, ())
        if is_check(self.env, opts):
            return {"changed": True, "stdout": "", "stderr": "", "exit_code": 0}
        done = self.systemctl("systemd.daemon_reload", opts, "daemon-reload")
        return {"changed": True, "stdout": done.stdout, "stderr": done.stderr, "exit_code": done.exit_code}

    def status(self, *args: Any) -> dict[str, Any]:
        opts, unit = self._unit("systemd.status", args)
        active = self._state("systemd.status", opts, "is-active", unit)
        enabled = self._state("systemd.status", opts, "is-enabled", unit)
        done = self.systemctl("systemd.status", opts, "status", "--no-pager", unit, must=False)
        return {
            "changed": False,
            "name": unit,
            "active": active,
            "enabled": enabled,
            "running": active == "active",
            "stdout": done.stdout,
            "stderr": done.stderr,
            "exit_code": done.exit_code,
        }

    def is_active(self, *args: Any) -> bool:
        opts, unit = self._unit("systemd.is_active", args)
        return self._state("systemd.is_active", opts, "is-active", unit) == "active"

    def is_enabled(self, *args: Any) -> bool:
        opts, unit = self._unit("systemd.is_enabled", args)
        return self._state("systemd.is_enabled", opts, "is-enabled", unit) == "enabled"

    def create_service(self, *args: Any) -> dict[str, Any]:
        where = "systemd.create_service"
        opts, unit = self._unit(where, args)
        folder = os.path.expanduser(text(opts, "unit_dir", UNIT_DIR) or UNIT_DIR)
        path = os.path.join(folder, unit)
        wanted = unit_text(unit.rsplit(".", 1)[0], opts).encode()
        result: dict[str, Any] = {"changed": False, "path": path, "stdout": "", "stderr": "", "exit_code": 0}
        before = read_bytes(path)
        if before == wanted:
            return result
        result["changed"] = True
        note_change(
            self.sandbox.scope.log,
            is_check(self.env, opts),
            f"{where} {path}",
            before,
            wanted,
            self.env.show_diff,
        )
        if is_check(self.env, opts):
            return result
        os.makedirs(folder, exist_ok=True)
        write_atomic(path, wanted, 0o644)
        if flag(opts, "daemon_reload", True):
            done = self.systemctl(where, opts, "daemon-reload")
            result.update(stdout=done.stdout, stderr=done.stderr, exit_code=done.exit_code)
        return result

    def remove_service(self, *args: Any) -> dict[str, Any]:
        """Stops and disables the unit when needed, deletes its file, reloads systemd."""
        where = "systemd.remove_service"
        opts, unit = self._unit(where, args)
        path = os.path.join(os.path.expanduser(text(opts, "unit_dir", UNIT_DIR) or UNIT_DIR), unit)
        if not os.path.exists(path):
            return {"changed": False, "path": path, "stdout": "", "stderr": "", "exit_code": 0}
        if is_check(self.env, opts):
            return {"changed": True, "path": path, "stdout": "", "stderr": "", "exit_code": 0}
        self.stop({**opts, "name": unit, "ignore_errors": True})
        self.disable({**opts, "name": unit, "ignore_errors": True})
        os.unlink(path)
        done = self.systemctl(where, opts, "daemon-reload")
        return {"changed": True, "path": path, "stdout": done.stdout, "stderr": done.stderr, "exit_code": 0}

    def list_services(self, *args: Any) -> Any:
        """The original's: `systemctl list-units --type=service` text, nil (or nil, message)."""
        opts = gather("systemd.list_services", args, ())
        words = ["list-units", "--type=service", "--no-pager"]
        if text(opts, "state"):
            words.append(f"--state={text(opts, 'state')}")
        if flag(opts, "no_header"):
            words.append("--no-legend")
        done = self.systemctl("systemd.list_services", opts, *words, must=False)
        if done.exit_code != 0:
            return None, f"Failed to list services: {done.stderr.strip()}"
        return done.stdout, None

    def show(self, *args: Any) -> Any:
        """The original's: `systemctl show NAME` text, nil (or nil, message)."""
        opts, unit = self._unit("systemd.show", args)
        done = self.systemctl("systemd.show", opts, "show", unit, must=False)
        if done.exit_code != 0:
            return None, f"systemctl show {unit} failed: {done.stderr.strip()}"
        return done.stdout, None


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    systemd = Systemd(sandbox, env)
    names = (
        "create_service",
        "start",
        "stop",
        "restart",
        "reload",
        "enable",
        "disable",
        "daemon_reload",
        "status",
        "is_active",
        "is_enabled",
        "remove_service",
        "list_services",
        "show",
    )
    functions = {name: getattr(systemd, name) for name in names}
    table = sandbox.set_module("systemd", functions, blocking=frozenset(functions))
    changing = (
        "create_service",
        "remove_service",
        "start",
        "stop",
        "restart",
        "reload",
        "enable",
        "disable",
        "daemon_reload",
    )
    results_twice(sandbox, table, [name for name in changing if name in functions])
