"""`sysctl`: kernel parameters, read and set with the `sysctl` program, as the original does.

    sysctl.get("net.ipv4.ip_forward") -> "0", nil | nil, message
    sysctl.set("net.ipv4.ip_forward", 1) -> true, message      (idempotent: no write when equal)
    sysctl.set_persistent(name, value[, file = "/etc/sysctl.d/99-sloth-runner.conf"])
        -> true, message: the `name = value` line added or replaced in that file, then applied
    sysctl.list([pattern]) -> { {name, value}, ... }, nil
    sysctl.exists(name) -> boolean
    sysctl.reload([file]) -> `sysctl -p [file]`;  sysctl.apply() -> `sysctl --system`

Values may be text, numbers (whole numbers without a fraction) or booleans (1/0). `sudo = true`
in a trailing options table prefixes `sudo -n` (agents usually run as root). In check mode
nothing is written and the message says what would change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes, write_atomic
from sloth_engine.modules.options import environment, flag, is_check, table_or_empty
from sloth_engine.modules.proc import find_tool, run_process

PERSISTENT_FILE = "/etc/sysctl.d/99-sloth-runner.conf"


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ModuleError(f"sysctl: unsupported value {value!r} (text, number or boolean)")


class Sysctl:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def run(self, opts: dict[str, Any], *words: str) -> tuple[int, str]:
        argv = [find_tool("sysctl", "sysctl"), *words]
        if flag(opts, "sudo"):
            argv = [find_tool("sudo", "sysctl"), "-n", *argv]
        done = run_process(self.sandbox, argv, env=environment(), timeout=60)
        return done.exit_code, (done.stdout + done.stderr).strip()

    def get(self, name: Any, opts: Any = None) -> Any:
        code, out = self.run(table_or_empty(opts), "-n", str(name))
        return (out, None) if code == 0 else (None, f"Failed to get parameter {name}: {out}")

    def set(self, name: Any, value: Any, opts: Any = None) -> tuple[bool, str]:
        options, text = table_or_empty(opts), value_text(value)
        code, current = self.run(options, "-n", str(name))
        if code == 0 and current == text:
            return True, f"Parameter {name} already set to {text} (idempotent)"
        if is_check(self.env, options):
            return True, f"would set {name} to {text}"
        code, out = self.run(options, "-w", f"{name}={text}")
        return (
            (True, f"Parameter {name} set to {text}")
            if code == 0
            else (False, f"Failed to set parameter: {out}")
        )

    def set_persistent(self, name: Any, value: Any, path: Any = None, opts: Any = None) -> tuple[bool, str]:
        if isinstance(path, dict):
            path, opts = None, path
        options, text, key = table_or_empty(opts), value_text(value), str(name)
        file = str(path or PERSISTENT_FILE)
        lines = (read_bytes(file) or b"").decode().splitlines()
        wanted, action = f"{key} = {text}", "added"
        for i, line in enumerate(lines):
            left, sep, right = line.partition("=")
            if sep and left.strip() == key:
                if right.strip() == text:
                    return True, f"Parameter {key} already persistent with value {text} (idempotent)"
                lines[i], action = wanted, "updated"
                break
        else:
            lines.append(wanted)
        if is_check(self.env, options):
            return True, f"would {action[:-1]} {key} in {file}"
        os.makedirs(os.path.dirname(file) or ".", exist_ok=True)
        write_atomic(file, ("\n".join(lines) + "\n").encode(), 0o644)
        code, out = self.run(options, "-w", f"{key}={text}")
        if code != 0:
            return False, f"Parameter {key} {action} in {file} but not applied: {out}"
        return True, f"Parameter {key} {action} in {file} and applied"

    def list(self, pattern: Any = None, opts: Any = None) -> Any:
        words = ["-a"] + ([str(pattern)] if pattern else [])
        code, out = self.run(table_or_empty(opts), *words)
        if code != 0:
            return None, f"Failed to list parameters: {out}"
        rows = [line.partition("=") for line in out.splitlines()]
        return [{"name": n.strip(), "value": v.strip()} for n, sep, v in rows if sep], None

    def exists(self, name: Any, opts: Any = None) -> bool:
        return self.run(table_or_empty(opts), "-n", str(name))[0] == 0

    def apply_words(self, opts: Any, *words: str) -> tuple[bool, str]:
        options = table_or_empty(opts)
        if is_check(self.env, options):
            return True, "would run sysctl " + " ".join(words)
        code, out = self.run(options, *words)
        return (True, out or "Sysctl configuration reloaded successfully") if code == 0 else (False, out)


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    ctl = Sysctl(sandbox, env)
    functions: dict[str, Callable[..., Any]] = {
        "get": ctl.get,
        "set": ctl.set,
        "set_persistent": ctl.set_persistent,
        "list": ctl.list,
        "exists": ctl.exists,
        "reload": lambda path=None, opts=None: ctl.apply_words(opts, "-p", *([str(path)] if path else [])),
        "apply": lambda opts=None: ctl.apply_words(opts, "--system"),
    }
    sandbox.set_module("sysctl", functions, blocking=frozenset(functions))
