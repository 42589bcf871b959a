"""`cron`: named jobs in a user's crontab, as the original tool manages them.

    cron.add({ name = "backup", schedule = "0 3 * * *", command = "/opt/backup.sh", user = "root" })
    cron.remove({ name = "backup" })      cron.enable({ name = ... })    cron.disable({ name = ... })
    cron.exists({ name = "backup" }) -> boolean
    cron.list({ user = "app" }) -> { {name, schedule, command, user, enabled}, ... }, nil
    cron.validate_schedule("*/5 * * * *") -> true, "Valid cron schedule" | false, message

Each job is two lines of the crontab, in the original's format: `# SLOTH_NAME:<name>` and the
entry (commented out while disabled), so files managed by the original are read here and the
other way round. Changing functions are idempotent and return `true, message` or `false,
message`; the crontab is read with `crontab -l` and written with `crontab FILE` (`-u USER`
for `user`, `sudo = true` to prefix `sudo -n`). Schedules are checked with croniter (five
fields, or `@hourly` ... `@reboot`). In check mode nothing is written and the message says what
would change.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from croniter import croniter

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, flag, is_check
from sloth_engine.modules.proc import find_tool, run_process

MARK = "# SLOTH_NAME:"
SPECIAL = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "@reboot")


def validate(schedule: str) -> str | None:
    """None for a valid schedule, else what is wrong."""
    text = schedule.strip()
    if text in SPECIAL:
        return None
    if len(text.split()) != 5:
        return "invalid cron schedule format (expected 5 fields: minute hour day month weekday)"
    if not croniter.is_valid(text):
        return f"invalid cron schedule: {text}"
    return None


def parse(content: str, user: str) -> list[dict[str, Any]]:
    lines, jobs = content.splitlines(), []
    for i, line in enumerate(lines):
        if not line.startswith(MARK) or i + 1 >= len(lines):
            continue
        entry = lines[i + 1].strip()
        enabled = not entry.startswith("#")
        fields = entry.lstrip("#").split()
        if fields and fields[0].startswith("@"):
            schedule, command = fields[0], " ".join(fields[1:])
        else:
            schedule, command = " ".join(fields[:5]), " ".join(fields[5:])
        name = line[len(MARK) :].strip()
        jobs.append(
            {"name": name, "schedule": schedule, "command": command, "user": user, "enabled": enabled}
        )
    return jobs


class Crontab:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def _argv(self, opts: dict[str, Any], *words: str) -> list[str]:
        argv = [find_tool("crontab", "cron")]
        if opts.get("user"):
            argv += ["-u", str(opts["user"])]
        argv += list(words)
        return [find_tool("sudo", "cron"), "-n", *argv] if flag(opts, "sudo") else argv

    def read(self, opts: dict[str, Any]) -> str:
        done = run_process(self.sandbox, self._argv(opts, "-l"), env=environment(), timeout=60)
        if done.exit_code != 0:
            if "no crontab" in (done.stderr + done.stdout).lower():
                return ""
            raise ModuleError(f"Failed to read crontab: {done.stderr.strip() or done.exit_code}")
        return done.stdout

    def write(self, opts: dict[str, Any], content: str) -> None:
        fd, path = tempfile.mkstemp(prefix="crontab-", suffix=".txt")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(content if content.endswith("\n") or not content else content + "\n")
            done = run_process(self.sandbox, self._argv(opts, path), env=environment(), timeout=60)
        finally:
            os.unlink(path)
        if done.exit_code != 0:
            raise ModuleError(f"failed to install crontab: {done.stderr.strip() or done.exit_code}")

    def change(self, opts: dict[str, Any], edit: Any) -> tuple[bool, str]:
        """Read, edit (content -> (new content or None for no change, message)), write."""
        name = str(opts.get("name") or "")
        if not name:
            return False, "Job name is required"
        try:
            content = self.read(opts)
            updated, message = edit(content.splitlines(), name)
            if updated is None:
                return True, message
            if is_check(self.env, opts):
                return True, f"would change: {message}"
            self.write(opts, "\n".join(updated))
        except ModuleError as exc:
            return False, str(exc)
        return True, message


def _find(lines: list[str], name: str) -> int:
    for i, line in enumerate(lines):
        if line.strip() == MARK + name and i + 1 < len(lines):
            return i
    return -1


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    tab = Crontab(sandbox, env)

    def options(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {"name": value} if value is not None else {}

    def add(value: Any = None) -> tuple[bool, str]:
        opts = options(value)
        schedule, command = str(opts.get("schedule") or ""), str(opts.get("command") or "")
        if not schedule:
            return False, "Schedule is required"
        if not command:
            return False, "Command is required"
        problem = validate(schedule)
        if problem:
            return False, f"Invalid schedule: {problem}"

        def edit(lines: list[str], name: str) -> tuple[list[str] | None, str]:
            entry, at = f"{schedule} {command}", _find(lines, name)
            if at < 0:
                return [*lines, MARK + name, entry], f"Cron job '{name}' added"
            if lines[at + 1].strip() == entry:
                return None, f"Cron job '{name}' already exists with same schedule and command (idempotent)"
            return [*lines[: at + 1], entry, *lines[at + 2 :]], f"Cron job '{name}' updated"

        return tab.change(opts, edit)

    def remove(value: Any = None) -> tuple[bool, str]:
        def edit(lines: list[str], name: str) -> tuple[list[str] | None, str]:
            at = _find(lines, name)
            if at < 0:
                return None, f"Cron job '{name}' does not exist (idempotent)"
            return [*lines[:at], *lines[at + 2 :]], f"Cron job '{name}' removed"

        return tab.change(options(value), edit)

    def switch(value: Any, enable: bool) -> tuple[bool, str]:
        word = "enabled" if enable else "disabled"

        def edit(lines: list[str], name: str) -> tuple[list[str] | None, str]:
            at = _find(lines, name)
            if at < 0:
                raise ModuleError(f"Cron job '{name}' not found")
            entry = lines[at + 1].strip()
            if entry.startswith("#") != enable:
                return None, f"Cron job '{name}' is already {word} (idempotent)"
            new = entry.lstrip("#").strip() if enable else "# " + entry
            return [*lines[: at + 1], new, *lines[at + 2 :]], f"Cron job '{name}' {word}"

        return tab.change(options(value), edit)

    def list_jobs(value: Any = None) -> Any:
        opts = options(value) if isinstance(value, dict) else {}
        try:
            content = tab.read(opts)
        except ModuleError as exc:
            return None, str(exc)
        return parse(content, str(opts.get("user") or os.environ.get("USER", ""))), None

    def exists(value: Any = None) -> bool:
        opts = options(value)
        try:
            return _find(tab.read(opts).splitlines(), str(opts.get("name") or "")) >= 0
        except ModuleError:
            return False

    def validate_schedule(schedule: Any = None) -> tuple[bool, str]:
        problem = validate(str(schedule or ""))
        return (False, problem) if problem else (True, "Valid cron schedule")

    functions = {
        "add": add,
        "remove": remove,
        "enable": lambda value=None: switch(value, True),
        "disable": lambda value=None: switch(value, False),
        "list": list_jobs,
        "exists": exists,
        "validate_schedule": validate_schedule,
    }
    sandbox.set_module("cron", functions, blocking=frozenset(functions) - {"validate_schedule"})
