"""`smb`: Samba shares in smb.conf and Samba users, as the original module.

    smb.share{name, path, comment, writeable = true, browseable = true, guest_ok = false,
              valid_users} -> true, message ("... created", "... updated", "... already exists")
    smb.unshare(name) -> true, message     smb.reload() -> true, message
    smb.list_shares() -> { {name, path, ...every key of the section}, ... }, nil
    smb.is_shared(name) -> bool
    smb.add_user(name, password) -> true, message   (smbpasswd -a -s, the password on stdin)
    smb.remove_user(name) -> true, message           (smbpasswd -x)

A share's section is compared with what is asked: equal is left alone, different is replaced
(other sections and lines kept). The new file is checked with `testparm -s` before it replaces
the old one, then smbd is reloaded (`systemctl reload smbd`, else `service smbd reload`).
`file = path` in the options names another smb.conf. In check mode nothing is written,
reloaded or added. As the original, `sudo` is put in front when not root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes
from sloth_engine.modules.host_tool import Tool, required, split
from sloth_engine.modules.options import flag, table_or_empty

CONFIG = "/etc/samba/smb.conf"
RELOADS = (["systemctl", "reload", "smbd"], ["service", "smbd", "reload"])


def sections(lines: list[str]) -> list[tuple[str | None, list[str]]]:
    """The file as (section name or None for what comes before the first, its lines)."""
    out: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in lines:
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            out.append((text[1:-1], [line]))
        else:
            out[-1][1].append(line)
    return out


def settings(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith(("#", ";")):
            found[key.strip()] = value.strip()
    return found


def yes(value: bool) -> str:
    return "yes" if value else "no"


class Smb:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "smb", auto_sudo=True)

    @staticmethod
    def file(opts: dict[str, Any]) -> str:
        return str(opts.get("file") or CONFIG)

    def read(self, opts: dict[str, Any]) -> list[str] | None:
        data = read_bytes(self.file(opts))
        return None if data is None else data.decode().splitlines()

    def save(
        self, opts: dict[str, Any], parts: list[tuple[str | None, list[str]]], done: str
    ) -> tuple[bool, str]:
        text = "".join(line + "\n" for _name, lines in parts for line in lines)
        if not self.tool.check(opts):
            with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as handle:
                handle.write(text)
            try:
                ok, out = self.tool.output(["testparm", "-s", handle.name], opts)
            finally:
                os.unlink(handle.name)
            if not ok:
                return False, f"Invalid Samba config: {out}"
        self.tool.write(opts, self.file(opts), text)
        if self.tool.check(opts):
            return True, f"would update {self.file(opts)} and reload smbd ({done})"
        ok, out = self.reload(opts)
        return (True, done) if ok else (False, out)

    def share(self, spec: Any) -> tuple[bool, str]:
        opts = table_or_empty(spec)
        name, path = str(opts.get("name") or ""), str(opts.get("path") or "")
        if not name:
            return False, "Share name is required"
        if not path:
            return False, "Share path is required"
        if not os.path.exists(path):
            return False, f"Share path does not exist: {path}"
        wanted = {"path": path, **({"comment": str(opts["comment"])} if opts.get("comment") else {})}
        wanted |= {
            "writeable": yes(flag(opts, "writeable", True)),
            "browseable": yes(flag(opts, "browseable", True)),
            "guest ok": yes(flag(opts, "guest_ok")),
        }
        wanted |= {"valid users": str(opts["valid_users"])} if opts.get("valid_users") else {}
        section = [f"[{name}]", *(f"   {k} = {v}" for k, v in wanted.items()), ""]
        lines = self.read(opts)
        if lines is None:
            return False, f"Failed to read Samba config: {self.file(opts)} does not exist"
        parts = sections(lines)
        for index, (existing, body) in enumerate(parts):
            if existing == name:
                if settings(body) == wanted:
                    return True, f"Samba share '{name}' already exists (idempotent)"
                parts[index] = (name, section)
                return self.save(opts, parts, f"Samba share '{name}' updated")
        if parts[-1][1] and parts[-1][1][-1].strip():
            parts[-1][1].append("")
        return self.save(opts, [*parts, (name, section)], f"Samba share '{name}' created")

    def unshare(self, *args: Any) -> tuple[bool, str]:
        (name,), opts = split(args, 1)
        name = required("smb.unshare", name, "name")
        lines = self.read(opts)
        if lines is None:
            return False, f"Failed to read Samba config: {self.file(opts)} does not exist"
        parts = sections(lines)
        kept = [part for part in parts if part[0] != name]
        if len(kept) == len(parts):
            return True, f"Samba share '{name}' does not exist (idempotent)"
        return self.save(opts, kept, f"Samba share '{name}' removed")

    def reload(self, opts: Any = None) -> tuple[bool, str]:
        options = table_or_empty(opts)
        ways = [w for w in RELOADS if shutil.which(w[0])]
        if not ways:
            raise ModuleError("smb: neither 'systemctl' nor 'service' is installed (to reload smbd)")
        ok, out = False, ""
        for words in ways:
            ok, out = self.tool.output(words, options)
            if ok:
                break
        return (True, "Samba configuration reloaded") if ok else (False, f"Failed to reload Samba: {out}")

    def list_shares(self, opts: Any = None) -> tuple[Any, Any]:
        lines = self.read(table_or_empty(opts))
        if lines is None:
            return None, f"Failed to read Samba config: {self.file(table_or_empty(opts))} does not exist"
        return [{**settings(body), "name": name} for name, body in sections(lines) if name], None

    def is_shared(self, *args: Any) -> bool:
        (name,), opts = split(args, 1)
        return any(existing == str(name) for existing, _body in sections(self.read(opts) or []))

    def user_exists(self, name: str, opts: dict[str, Any]) -> bool:
        return self.tool.ok(["pdbedit", "-u", name], opts)

    def add_user(self, *args: Any) -> tuple[bool, str]:
        (name, password), opts = split(args, 2)
        name, password = (
            required("smb.add_user", name, "username"),
            required("smb.add_user", password, "password"),
        )
        if self.user_exists(name, opts):
            return True, f"Samba user '{name}' already exists (idempotent)"
        ok, out = self.tool.change(
            opts,
            f"add user {name}",
            ["smbpasswd", "-a", "-s", name],
            ["smbpasswd", "-e", name],
            stdin=f"{password}\n{password}\n",
        )
        if not ok:
            return False, f"Failed to add Samba user: {out}"
        return True, out if out.startswith("would ") else f"Samba user '{name}' added"

    def remove_user(self, *args: Any) -> tuple[bool, str]:
        (name,), opts = split(args, 1)
        name = required("smb.remove_user", name, "username")
        if not self.user_exists(name, opts):
            return True, f"Samba user '{name}' does not exist (idempotent)"
        ok, out = self.tool.change(opts, f"remove user {name}", ["smbpasswd", "-x", name])
        if not ok:
            return False, f"Failed to remove Samba user: {out}"
        return True, out if out.startswith("would ") else f"Samba user '{name}' removed"


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    s = Smb(sandbox, env)
    functions: dict[str, Callable[..., Any]] = {
        "share": s.share,
        "unshare": s.unshare,
        "list_shares": s.list_shares,
        "reload": s.reload,
        "is_shared": s.is_shared,
        "add_user": s.add_user,
        "remove_user": s.remove_user,
    }
    local = {"list_shares", "is_shared"}
    sandbox.set_module("smb", functions, blocking=frozenset(functions) - local)
