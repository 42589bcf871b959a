"""`user`: local users and groups through the system's own tools, as the original's module.

Queries read `getent` (so NSS sources such as LDAP count too); changes run `useradd`,
`usermod`, `userdel`, `groupadd`, `groupdel`, `gpasswd`, `chpasswd` (the password on stdin,
never on a command line), `passwd -l/-u/-S` and `chage`. Changing functions are idempotent and
return `true, message` or `false, message`; queries return `value, nil` or `nil, message`;
predicates return booleans. `sudo = true` in an options table prefixes `sudo -n`. In check mode
changes only say what they would do.

    user.create("app", {home, shell, uid, gid, groups = {"docker"}, comment, system, create_home,
                        expiry})          -- or user.create({username = "app", ...})
    user.delete("app"[, {remove_home = true}])   user.modify("app", {shell, home, comment, groups, append})
    user.exists(name)  user.get_info(name)  user.list()  user.lock/unlock/is_locked(name)
    user.set_password(name, password)  user.expire_password(name)  user.set_shell(name, shell)
    user.set_home(name, home[, {move = true}])  user.get_uid/get_gid/get_groups/get_home/get_shell/
    get_comment(name)  user.set_comment(name, text)  user.add_to_group(name, group)
    user.remove_from_group(name, group)  user.set_primary_group(name, group)
    user.is_system_user(name)  user.get_current()  user.set_expiry(name, "YYYY-MM-DD")
    user.get_last_login(name)  user.get_failed_logins(name)  user.validate_username(name)
    user.is_root()  user.run_as(name, command)
    user.group_create(name[, {gid, system}])  user.group_delete(name)  user.group_exists(name)
    user.group_get_info(name)  user.group_list()  user.group_get_gid(name)  user.group_members(name)
    user.group_add_member(group, name)  user.group_remove_member(group, name)
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, is_check, table_or_empty
from sloth_engine.modules.proc import find_tool, run_process

_VALID = re.compile(r"^[a-z_][a-z0-9_-]*\$?$")
SYSTEM_UID_MAX = 999


class Users:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox, self.env = sandbox, env

    def run(self, argv: list[str], opts: dict[str, Any], stdin: str | None = None) -> tuple[int, str]:
        words = [find_tool(argv[0], "user"), *argv[1:]]
        if opts.get("sudo"):
            words = [find_tool("sudo", "user"), "-n", *words]
        done = run_process(self.sandbox, words, env=environment(), timeout=120, stdin=stdin)
        return done.exit_code, (done.stdout if done.exit_code == 0 else done.stderr or done.stdout).strip()

    def entry(self, database: str, name: str) -> list[str] | None:
        code, out = self.run(["getent", database, name], {})
        return out.splitlines()[0].split(":") if code == 0 and out else None

    def change(self, argv: list[str], opts: dict[str, Any], done: str, stdin: str | None = None) -> Any:
        if is_check(self.env, opts):
            return True, f"would run: {' '.join(argv)}"
        code, out = self.run(argv, opts, stdin)
        return (True, done) if code == 0 else (False, f"`{' '.join(argv)}` failed: {out}")

    # ---- users ---------------------------------------------------------------------------------

    def create(self, name_or_opts: Any = None, options: Any = None) -> Any:
        opts = dict(name_or_opts) if isinstance(name_or_opts, dict) else dict(table_or_empty(options))
        name = str(opts.get("username") or ("" if isinstance(name_or_opts, dict) else name_or_opts or ""))
        ok, why = validate(name)
        if not ok:
            return False, why
        if self.entry("passwd", name) is not None:
            return True, f"User {name} already exists (unchanged)"
        argv = ["useradd"]
        for key, flag in (("home", "-d"), ("shell", "-s"), ("uid", "-u"), ("gid", "-g"), ("comment", "-c")):
            if opts.get(key) not in (None, ""):
                argv += [flag, str(opts[key])]
        if opts.get("groups"):
            argv += ["-G", _names(opts["groups"])]
        if opts.get("expiry"):
            argv += ["-e", str(opts["expiry"])]
        argv += ["-r"] if opts.get("system") else []
        argv += ["-m"] if opts.get("create_home") else ["-M"] if opts.get("no_create_home") else []
        return self.change([*argv, name], opts, f"User {name} created")

    def modify(self, name: Any, options: Any = None) -> Any:
        opts, user = table_or_empty(options), str(name)
        entry = self.entry("passwd", user)
        if entry is None:
            return False, f"User {user} does not exist"
        argv = ["usermod"]
        wanted = {"shell": ("-s", 6), "home": ("-d", 5), "comment": ("-c", 4)}
        for key, (flag, field) in wanted.items():
            if opts.get(key) not in (None, "") and entry[field] != str(opts[key]):
                argv += [flag, str(opts[key])]
        if opts.get("groups"):
            current = set(self.groups(user)[0] or [])
            wanted_groups = set(_names(opts["groups"]).split(","))
            if (
                not wanted_groups <= current
                or not opts.get("append")
                and wanted_groups != current - {entry[3]}
            ):
                argv += (["-a"] if opts.get("append") else []) + ["-G", ",".join(sorted(wanted_groups))]
        if len(argv) == 1:
            return True, f"User {user} already as asked (unchanged)"
        return self.change([*argv, user], opts, f"User {user} modified")

    def delete(self, name: Any, options: Any = None) -> Any:
        opts, user = table_or_empty(options), str(name)
        if self.entry("passwd", user) is None:
            return True, f"User {user} does not exist (unchanged)"
        argv = ["userdel", *(["-r"] if opts.get("remove_home") else []), user]
        return self.change(argv, opts, f"User {user} deleted")

    def field(self, index: int, name: Any) -> Any:
        entry = self.entry("passwd", str(name))
        return (entry[index], None) if entry else (None, f"User {name} does not exist")

    def info(self, name: Any) -> Any:
        entry = self.entry("passwd", str(name))
        if entry is None:
            return None, f"Failed to get user info: user {name} does not exist"
        return _user(entry), None

    def listing(self) -> Any:
        code, out = self.run(["getent", "passwd"], {})
        return (
            ([_user(line.split(":")) for line in out.splitlines() if line], None)
            if code == 0
            else (None, out)
        )

    def groups(self, name: Any) -> Any:
        code, out = self.run(["id", "-Gn", str(name)], {})
        return (out.split(), None) if code == 0 else (None, f"Failed to get user groups: {out}")

    def locked(self, name: Any) -> Any:
        code, out = self.run(["passwd", "-S", str(name)], {})
        if code != 0:
            return None, f"Failed to check lock status: {out}"
        fields = out.split()
        return (
            (True, "User is locked")
            if len(fields) > 1 and fields[1] in ("L", "LK")
            else (False, "User is not locked")
        )

    def lock(self, name: Any, lock: bool, options: Any = None) -> Any:
        is_locked, _ = self.locked(name)
        if is_locked is lock:
            return True, f"User {name} already {'locked' if lock else 'unlocked'} (unchanged)"
        return self.change(
            ["passwd", "-l" if lock else "-u", str(name)],
            table_or_empty(options),
            f"User {name} {'locked' if lock else 'unlocked'}",
        )

    def member_of(self, name: Any, group: Any, add: bool, options: Any = None) -> Any:
        members = self.members(group)[0]
        if members is None:
            return False, f"Group {group} does not exist"
        if (str(name) in members) == add:
            return True, f"User {name} {'already in' if add else 'not in'} {group} (unchanged)"
        argv = ["gpasswd", "-a" if add else "-d", str(name), str(group)]
        return self.change(
            argv, table_or_empty(options), f"User {name} {'added to' if add else 'removed from'} {group}"
        )

    def members(self, group: Any) -> Any:
        entry = self.entry("group", str(group))
        if entry is None:
            return None, f"Group {group} does not exist"
        return [m for m in entry[3].split(",") if m] if len(entry) > 3 else [], None


def _names(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _user(entry: list[str]) -> dict[str, str]:
    keys = ("username", "password", "uid", "gid", "comment", "home", "shell")
    info = dict(zip(keys, entry, strict=False))
    info.pop("password", None)
    info["name"] = info.get("comment", "").split(",")[0]
    return info


def validate(name: str) -> tuple[bool, str]:
    if not name:
        return False, "Username cannot be empty"
    if len(name) > 32:
        return False, "Username too long (max 32 characters)"
    if not (name[0].isalpha() or name[0] == "_"):
        return False, "Username must start with a letter or underscore"
    if not _VALID.match(name):
        return False, "Username contains invalid characters"
    return True, "Valid username"


def _functions(u: Users) -> dict[str, Callable[..., Any]]:
    def set_field(flag: str, what: str, index: int) -> Callable[..., Any]:
        def call(name: Any, value: Any, options: Any = None) -> Any:
            entry = u.entry("passwd", str(name))
            if entry is None:
                return False, f"User {name} does not exist"
            if entry[index] == str(value):
                return True, f"{what} of {name} already {value} (unchanged)"
            move = ["-m"] if flag == "-d" and table_or_empty(options).get("move") else []
            return u.change(
                ["usermod", flag, str(value), *move, str(name)],
                table_or_empty(options),
                f"{what} of {name} set to {value}",
            )

        return call

    def group_create(name: Any, options: Any = None) -> Any:
        opts = table_or_empty(options)
        if u.entry("group", str(name)) is not None:
            return True, f"Group {name} already exists (unchanged)"
        argv = [
            "groupadd",
            *(["-g", str(opts["gid"])] if opts.get("gid") else []),
            *(["-r"] if opts.get("system") else []),
        ]
        return u.change([*argv, str(name)], opts, f"Group {name} created")

    def group_delete(name: Any, options: Any = None) -> Any:
        if u.entry("group", str(name)) is None:
            return True, f"Group {name} does not exist (unchanged)"
        return u.change(["groupdel", str(name)], table_or_empty(options), f"Group {name} deleted")

    def group_info(name: Any) -> Any:
        entry = u.entry("group", str(name))
        if entry is None:
            return None, f"Failed to get group info: group {name} does not exist"
        return {"name": entry[0], "gid": entry[2], "members": [m for m in entry[3].split(",") if m]}, None

    def group_list() -> Any:
        code, out = u.run(["getent", "group"], {})
        if code != 0:
            return None, out
        rows = [line.split(":") for line in out.splitlines() if line]
        return [{"name": r[0], "gid": r[2], "members": [m for m in r[3].split(",") if m]} for r in rows], None

    def current() -> Any:
        entry = pwd.getpwuid(os.getuid())
        return {
            "username": entry.pw_name,
            "uid": str(entry.pw_uid),
            "gid": str(entry.pw_gid),
            "name": entry.pw_gecos.split(",")[0],
            "home": entry.pw_dir,
        }, None

    def is_system(name: Any) -> bool:
        entry = u.entry("passwd", str(name))
        return entry is not None and int(entry[2]) <= SYSTEM_UID_MAX

    def set_password(name: Any, password: Any, options: Any = None) -> Any:
        if not password:
            return False, "Password is required"
        if u.entry("passwd", str(name)) is None:
            return False, f"User {name} does not exist"
        return u.change(
            ["chpasswd"], table_or_empty(options), "Password set successfully", stdin=f"{name}:{password}\n"
        )

    def run_as(name: Any, command: Any, options: Any = None) -> Any:
        if not command:
            return False, "Command is required"
        argv = ["runuser", "-u", str(name), "--", "sh", "-c", str(command)]
        if is_check(u.env, table_or_empty(options)):
            return True, f"would run as {name}: {command}"
        code, out = u.run(argv, table_or_empty(options))
        return (True, out) if code == 0 else (False, f"Failed to run command as user: {out}")

    def tool_text(argv_of: Callable[[str], list[str]], what: str) -> Callable[..., Any]:
        def call(name: Any) -> Any:
            code, out = u.run(argv_of(str(name)), {})
            return (out, None) if code == 0 else (None, f"Failed to get {what}: {out}")

        return call

    return {
        "create": u.create,
        "delete": u.delete,
        "modify": u.modify,
        "exists": lambda name: u.entry("passwd", str(name)) is not None,
        "get_info": u.info,
        "list": u.listing,
        "lock": lambda name, o=None: u.lock(name, True, o),
        "unlock": lambda name, o=None: u.lock(name, False, o),
        "is_locked": u.locked,
        "set_password": set_password,
        "expire_password": lambda name, o=None: u.change(
            ["chage", "-d", "0", str(name)], table_or_empty(o), f"Password of {name} expired"
        ),
        "set_shell": set_field("-s", "Shell", 6),
        "set_home": set_field("-d", "Home", 5),
        "set_comment": set_field("-c", "Comment", 4),
        "get_uid": lambda name: u.field(2, name),
        "get_gid": lambda name: u.field(3, name),
        "get_home": lambda name: u.field(5, name),
        "get_shell": lambda name: u.field(6, name),
        "get_comment": lambda name: u.field(4, name),
        "get_groups": u.groups,
        "add_to_group": lambda name, group, o=None: u.member_of(name, group, True, o),
        "remove_from_group": lambda name, group, o=None: u.member_of(name, group, False, o),
        "set_primary_group": lambda name, group, o=None: u.change(
            ["usermod", "-g", str(group), str(name)],
            table_or_empty(o),
            f"Primary group of {name} set to {group}",
        ),
        "is_system_user": is_system,
        "get_current": current,
        "set_expiry": lambda name, date, o=None: u.change(
            ["usermod", "-e", str(date), str(name)], table_or_empty(o), f"Expiry of {name} set to {date}"
        ),
        "get_last_login": tool_text(lambda n: ["lastlog", "-u", n], "last login"),
        "get_failed_logins": tool_text(lambda n: ["faillog", "-u", n], "failed logins"),
        "validate_username": lambda name: validate(str(name or "")),
        "is_root": lambda: os.geteuid() == 0,
        "run_as": run_as,
        "group_create": group_create,
        "group_delete": group_delete,
        "group_exists": lambda name: u.entry("group", str(name)) is not None,
        "group_get_info": group_info,
        "group_list": group_list,
        "group_get_gid": lambda name: (
            lambda e: (e[2], None) if e else (None, f"Group {name} does not exist")
        )(u.entry("group", str(name))),
        "group_members": u.members,
        "group_add_member": lambda group, name, o=None: u.member_of(name, group, True, o),
        "group_remove_member": lambda group, name, o=None: u.member_of(name, group, False, o),
    }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    functions = _functions(Users(sandbox, env))
    quick = {"validate_username", "is_root", "get_current"}
    sandbox.set_module("user", functions, blocking=frozenset(functions) - quick)
