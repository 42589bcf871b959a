"""`nfs`: NFS exports in /etc/exports, reloaded with `exportfs -ra`, as the original module.

    nfs.export{path, clients = "*", options = "rw,sync,no_subtree_check"} -> true, message
        ("... added", "... updated", "... already exists (idempotent)") | false, message
    nfs.unexport(path) -> true, message       nfs.reload() -> true, message
    nfs.list_exports() -> { {path, clients_options}, ... }, nil      nfs.is_exported(path) -> bool

The exports file is edited in place (other lines kept) through a temporary file and a rename;
`file = path` in the options names another one. In check mode nothing is written or
reloaded, and with `--diff` the change to the file is shown. As the original, `sudo` is put
in front of exportfs when not root.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes
from sloth_engine.modules.host_tool import Tool, required, split
from sloth_engine.modules.options import table_or_empty
from sloth_engine.modules.proc import find_tool

EXPORTS = "/etc/exports"


def export_of(line: str, path: str) -> bool:
    text = line.strip()
    return text == path or text.startswith(path + " ") or text.startswith(path + "\t")


class Nfs:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "nfs", auto_sudo=True)

    @staticmethod
    def file(opts: dict[str, Any]) -> str:
        return str(opts.get("file") or EXPORTS)

    def lines(self, opts: dict[str, Any]) -> list[str] | None:
        data = read_bytes(self.file(opts))
        return None if data is None else data.decode().splitlines()

    def save(self, opts: dict[str, Any], lines: list[str], done: str) -> tuple[bool, str]:
        find_tool("exportfs", "nfs")  # missing: say so before the file changes
        self.tool.write(opts, self.file(opts), "".join(line + "\n" for line in lines))
        if self.tool.check(opts):
            return True, f"would update {self.file(opts)} and run exportfs -ra ({done})"
        ok, out = self.reload(opts)
        return (True, done) if ok else (False, f"Failed to reload NFS exports: {out}")

    def export(self, spec: Any) -> tuple[bool, str]:
        opts = table_or_empty(spec)
        path = str(opts.get("path") or "")
        if not path:
            return False, "Export path is required"
        if not os.path.exists(path):
            return False, f"Export path does not exist: {path}"
        clients, options = (
            str(opts.get("clients") or "*"),
            str(opts.get("options") or "rw,sync,no_subtree_check"),
        )
        wanted = f"{path} {clients}({options})"
        lines = self.lines(opts) or []
        for index, line in enumerate(lines):
            if export_of(line, path):
                if line.strip() == wanted:
                    return True, f"NFS export for {path} already exists (idempotent)"
                lines[index] = wanted
                return self.save(opts, lines, f"NFS export for {path} updated")
        return self.save(opts, [*lines, wanted], f"NFS export for {path} added")

    def unexport(self, *args: Any) -> tuple[bool, str]:
        (path,), opts = split(args, 1)
        path = required("nfs.unexport", path, "path")
        lines = self.lines(opts)
        if lines is None:
            return False, f"Failed to read exports file: {self.file(opts)} does not exist"
        kept = [line for line in lines if not export_of(line, path)]
        if len(kept) == len(lines):
            return True, f"NFS export for {path} does not exist (idempotent)"
        return self.save(opts, kept, f"NFS export for {path} removed")

    def reload(self, opts: Any = None) -> tuple[bool, str]:
        ok, out = self.tool.output(["exportfs", "-ra"], table_or_empty(opts))
        return (True, "NFS exports reloaded") if ok else (False, f"Failed to reload NFS exports: {out}")

    def list_exports(self, opts: Any = None) -> tuple[Any, Any]:
        rows = []
        for line in self.lines(table_or_empty(opts)) or []:
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith("#"):
                rows.append({"path": parts[0], "clients_options": " ".join(parts[1:])})
        return rows, None

    def is_exported(self, *args: Any) -> bool:
        (path,), opts = split(args, 1)
        return any(export_of(line, str(path)) for line in self.lines(opts) or [])


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    n = Nfs(sandbox, env)
    functions: dict[str, Callable[..., Any]] = {
        "export": n.export,
        "unexport": n.unexport,
        "list_exports": n.list_exports,
        "reload": n.reload,
        "is_exported": n.is_exported,
    }
    sandbox.set_module("nfs", functions, blocking=frozenset({"export", "unexport", "reload"}))
