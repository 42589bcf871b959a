"""Arguments of the infrastructure modules: one table or positional values, and check mode.

The original tool's files call these functions both ways, `file_ops.copy({src = a, dest = b})`
and `file_ops.copy(a, b, {mode = "0644"})`; `gather` turns either into one dict.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

from sloth_engine.durations import parse_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv

_OCTAL = re.compile(r"^(?:0o|0)?([0-7]{1,4})$")


def gather(
    where: str, args: tuple[Any, ...], names: Sequence[str], tables: Collection[str] = ()
) -> dict[str, Any]:
    """`f{a=1, b=2}`, `f(1, 2)` and `f(1, {b=2})` as {"a": 1, "b": 2}.

    Leading values fill `names` in order; a table there ends them and holds the options,
    unless its name is in `tables` (a positional table such as template's `vars`).
    """
    values = list(args)
    while values and values[-1] is None:
        values.pop()
    if len(values) == 1 and isinstance(values[0], dict) and not (names and names[0] in tables):
        return dict(values[0])
    opts: dict[str, Any] = {}
    positional: dict[str, Any] = {}
    for index, value in enumerate(values):
        if index < len(names) and (not isinstance(value, dict) or names[index] in tables):
            if value is not None:
                positional[names[index]] = value
        elif isinstance(value, dict) and index == len(values) - 1:
            opts = dict(value)
        else:
            raise ModuleError(
                f"{where}: unexpected argument {index + 1} (expected {', '.join(names)}, then options)"
            )
    for name, value in positional.items():
        opts.setdefault(name, value)
    return opts


def need(where: str, opts: dict[str, Any], name: str, *aliases: str) -> str:
    """A required string option (first of name and aliases given)."""
    for key in (name, *aliases):
        value = opts.get(key)
        if value is not None and value != "":
            if isinstance(value, (dict, list, bool)):
                raise ModuleError(f"{where}: {key} must be a string")
            return str(value)
    raise ModuleError(f"{where}: {name} is required")


def text(opts: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = opts.get(name)
    if value is None:
        return default
    if isinstance(value, (dict, list)):
        raise ModuleError(f"{name} must be a string")
    return str(value)


def flag(opts: dict[str, Any], name: str, default: bool = False) -> bool:
    value = opts.get(name)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def names(where: str, value: Any) -> list[str]:
    """One name or a list of names (packages, files)."""
    if isinstance(value, str) and value.strip():
        return value.split()
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise ModuleError(f"{where}: expected a name or a list of names, got {value!r}")


def is_check(env: ModuleEnv, opts: dict[str, Any]) -> bool:
    """Check mode: the call's `check = true`, else the run's --check."""
    return flag(opts, "check", env.check_mode)


def file_mode(where: str, value: Any) -> int | None:
    """A permission mode: text is octal ("0644", "644", "0o644"); a number is taken as is (420)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ModuleError(f'{where}: mode must be octal text like "0644"')
    if isinstance(value, (int, float)):
        if value != int(value) or not 0 <= value <= 0o7777:
            raise ModuleError(f"{where}: mode {value} is out of range")
        return int(value)
    match = _OCTAL.match(str(value).strip())
    if match is None:
        raise ModuleError(f'{where}: mode must be octal text like "0644", got {value!r}')
    return int(match.group(1), 8)


def mode_text(mode: int) -> str:
    return f"{mode & 0o7777:04o}"


def timeout(opts: dict[str, Any], default: float | None = None) -> float | None:
    raw = opts.get("timeout")
    if raw in (None, "", 0):
        return default
    return parse_duration(raw)


def workdir_path(sandbox: Sandbox, value: Any) -> str:
    """A path from Lua: `~` expanded, relative ones against the task's workdir."""
    if not isinstance(value, str) or not value:
        raise ModuleError(f"expected a path, got {value!r}")
    base = sandbox.scope.workdir or os.getcwd()
    return os.path.normpath(os.path.join(base, os.path.expanduser(value)))


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The host environment for a tool, with C messages (they are parsed) and no prompts."""
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "LANG": "C", "GIT_TERMINAL_PROMPT": "0"})
    if extra:
        env.update(extra)
    return env


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def lenient(fn: Callable[..., Any], strip: str = "") -> Callable[..., Any]:
    """`fn` with the original's convention for failures: `nil, message` instead of an error
    (`strip`: a prefix the message loses, e.g. the module's name)."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except ModuleError as exc:
            return None, str(exc).removeprefix(strip)

    return call


def table_or_empty(value: Any) -> dict[str, Any]:
    """An options table given as the last argument, or none."""
    return value if isinstance(value, dict) else {}
