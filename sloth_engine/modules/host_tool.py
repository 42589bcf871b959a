"""What the system modules (firewall, stow, lvm, raid, nfs, smb, incus) share: running their
programs, check mode, and saying what changed.

The original's functions take positional values and return `true, message` (a change, or
that nothing needed changing) or `false, message`; queries return `value, nil` or `nil,
message`. `split` takes a trailing options table off positional arguments (`sudo`, `check`);
`Tool.change` runs the commands of one change unless in check mode, and records the change
on the task's change stream either way, so `--check` reports it and the recap counts it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sloth_engine.changes import note_change
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes, write_atomic
from sloth_engine.modules.options import environment, flag, is_check
from sloth_engine.modules.proc import Completed, describe, find_tool, run_process

DEFAULT_TIMEOUT = 300.0


def split(args: tuple[Any, ...], count: int) -> tuple[list[Any], dict[str, Any]]:
    """The first `count` positional values (None where missing) and an options table after them."""
    values = list(args)
    opts: dict[str, Any] = {}
    if len(values) > count and isinstance(values[-1], dict):
        opts = dict(values.pop())
    values += [None] * (count - len(values))
    return values[:count], opts


def required(where: str, value: Any, name: str) -> str:
    if value is None or value == "" or isinstance(value, (dict, list, bool)):
        raise ModuleError(f"{where}: {name} is required (text)")
    return str(value)


def string_list(where: str, value: Any, name: str) -> list[str]:
    """A list of names given as a Lua array (or one name)."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise ModuleError(f"{where}: {name} must be a list of names")


class Tool:
    """One module's programs on this machine."""

    def __init__(self, sandbox: Sandbox, env: ModuleEnv, module: str, auto_sudo: bool = False) -> None:
        self.sandbox, self.env, self.module = sandbox, env, module
        self.auto_sudo = auto_sudo
        """The original prefixed `sudo` itself when not root (lvm, raid, nfs, smb)."""

    def argv(self, words: Sequence[str], opts: dict[str, Any]) -> list[str]:
        argv = [find_tool(words[0], self.module), *words[1:]]
        if flag(opts, "sudo", self.auto_sudo and os.geteuid() != 0):
            argv = [find_tool("sudo", self.module), "-n", *argv]
        return argv

    def run(
        self, words: Sequence[str], opts: dict[str, Any] | None = None, stdin: str | None = None
    ) -> Completed:
        options = opts or {}
        timeout = float(options.get("timeout") or DEFAULT_TIMEOUT)
        return run_process(
            self.sandbox, self.argv(words, options), env=environment(), timeout=timeout, stdin=stdin
        )

    def ok(self, words: Sequence[str], opts: dict[str, Any] | None = None) -> bool:
        return self.run(words, opts).exit_code == 0

    def output(self, words: Sequence[str], opts: dict[str, Any] | None = None) -> tuple[bool, str]:
        """(succeeded, stdout and stderr stripped)."""
        done = self.run(words, opts)
        return done.exit_code == 0, (done.stdout + done.stderr).strip()

    def check(self, opts: dict[str, Any]) -> bool:
        return is_check(self.env, opts)

    def noted(self, opts: dict[str, Any], what: str) -> None:
        note_change(self.sandbox.scope.log, self.check(opts), f"{self.module} {what}")

    def change(
        self, opts: dict[str, Any], what: str, *commands: Sequence[str], stdin: str | None = None
    ) -> tuple[bool, str]:
        """Run `commands` in order (stopping at the first failure) unless in check mode.
        (True, their output) | (True, "would ...") | (False, the failing command's words)."""
        if self.check(opts):
            self.noted(opts, what)
            return True, "would " + "; ".join(describe(list(c)) for c in commands)
        said: list[str] = []
        for words in commands:
            done = self.run(words, opts, stdin)
            text = (done.stdout + done.stderr).strip()
            if done.exit_code != 0:
                return False, f"`{describe(list(words))}` failed (exit {done.exit_code}): {text}"
            if text:
                said.append(text)
        self.noted(opts, what)
        return True, "\n".join(said)

    def write(self, opts: dict[str, Any], path: str, text: str, mode: int = 0o644) -> None:
        """Put `text` in the file (unless in check mode) and record the change with its diff."""
        before = read_bytes(path)
        check = self.check(opts)
        note_change(
            self.sandbox.scope.log, check, f"{self.module} {path}", before, text.encode(), self.env.show_diff
        )
        if not check:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            write_atomic(path, text.encode(), mode)
