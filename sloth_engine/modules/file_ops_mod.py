"""`file_ops`: idempotent file changes in the manner of Ansible's file modules.

Every function takes one table (`file_ops.copy({src = "a", dest = "/etc/a", mode = "0644"})`)
or the original's positional form (`file_ops.copy("a", "/etc/a", {mode = "0644"})`) and
returns a table with `changed` (false when the file was already as asked: nothing is written
then) plus details, twice, so the original's `local ok, res = file_ops.copy{...}` works.
Writes go through a temporary file and a rename in the same folder; a
replaced file keeps its mode (and owner) unless `mode` is given. With `check = true` (or the
run's check mode) nothing changes and `changed` says whether something would have.

- `copy{src, dest, mode}` (or `content` instead of `src`; a folder is copied file by file;
  a `dest` that is a folder receives `src`'s base name) -> `{changed, dest, src, mode}`
- `template{src, dest, vars, mode, engine}`: Jinja2 as in `template.render_file` (undefined
  names are errors), or Go's text/template as the original's (`{{.Name}}`, `{{if}}`,
  `{{range}}`: see go_template), chosen by the template's syntax or `engine = "go"|"jinja"`
  -> `{changed, dest, src, mode}`
- `lineinfile{path, line, regexp, state, insertafter, insertbefore, create, mode}`
  -> `{changed, path, action}`; a missing file is created unless `create = false`
- `blockinfile{path, block, marker, state, marker_begin, marker_end, insertafter,
  insertbefore, create, mode}`; `marker` defaults to `# {mark} SLOTH MANAGED BLOCK`
- `replace{path, pattern, replacement}`: Python regular expressions, multiline
  -> `{changed, path, replacements}`
- `unarchive{src, dest, creates}`: tar (gz, bz2, xz) or zip; refuses members that would land
  outside `dest` -> `{changed, dest, files}` (the members written)
- `fetch{src, dest}`: one file copied as `copy` does -> `{changed, src, dest, size}`
- `stat{path, checksum}` -> `{changed = false, exists, is_file, is_dir, is_link, size, mode,
  uid, gid, owner, group, mtime, checksum}` (sha256 of a regular file unless `checksum = false`)

Paths: `dest` and `path` are relative to the task's workdir; `src` is looked up in the
task's workdir first and then in the workflow file's folder (where a workflow keeps its files
and templates). Modes: text is octal (`"0644"`), a number is taken as is (`420`).
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
from pathlib import Path
from typing import Any

from sloth_engine.changes import note_change
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, go_template
from sloth_engine.modules.archives import unpack
from sloth_engine.modules.atomic_write import current_mode, read_bytes, set_mode, write_atomic
from sloth_engine.modules.file_edits import DEFAULT_MARKER, block_in_file, line_in_file, replace_in_text
from sloth_engine.modules.options import (
    file_mode,
    flag,
    gather,
    group_name,
    is_check,
    mode_text,
    need,
    text,
    user_name,
    workdir_path,
)
from sloth_engine.modules.original_shape import results_twice
from sloth_engine.modules.template_mod import _environment, _render

STATES = ("present", "absent")


class FileOps:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    # ---- paths --------------------------------------------------------------------------

    def path(self, value: str) -> str:
        return workdir_path(self.sandbox, value)

    def source(self, where: str, value: str) -> str:
        """`src`: the task's workdir first, then the workflow file's folder."""
        first = self.path(value)
        if os.path.exists(first):
            return first
        second = os.path.normpath(os.path.join(str(self.env.base_dir), os.path.expanduser(value)))
        if os.path.exists(second):
            return second
        raise ModuleError(f"{where}: source {value} not found (looked in {first} and {second})")

    # ---- writing one file -----------------------------------------------------------------

    def put(self, dest: str, data: bytes, mode: int | None, check: bool) -> bool:
        """Make `dest` hold `data` (and `mode`); whether anything changed (would change)."""
        if os.path.isdir(dest):
            raise ModuleError(f"file_ops: {dest} is a directory")
        before = read_bytes(dest)
        if before == data:
            if mode is None or current_mode(dest) == mode:
                return False
            note_change(self.sandbox.scope.log, check, f"file_ops mode {mode_text(mode)} {dest}")
            if not check:
                set_mode(dest, mode)
            return True
        note_change(self.sandbox.scope.log, check, f"file_ops {dest}", before, data, self.env.show_diff)
        if not check:
            os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
            write_atomic(dest, data, mode)
        return True

    def _result(self, changed: bool, dest: str, **extra: Any) -> dict[str, Any]:
        mode = current_mode(dest)
        result = {"changed": changed, "dest": dest, "path": dest, **extra}
        if mode is not None:
            result["mode"] = mode_text(mode)
        return result

    # ---- the functions ----------------------------------------------------------------------

    def copy(self, *args: Any) -> dict[str, Any]:
        opts = gather("file_ops.copy", args, ("src", "dest"))
        dest = self.path(need("file_ops.copy", opts, "dest", "dst"))
        mode = file_mode("file_ops.copy", opts.get("mode"))
        check = is_check(self.env, opts)
        if opts.get("content") is not None and opts.get("src") is None:
            changed = self.put(dest, str(opts["content"]).encode(), mode, check)
            return self._result(changed, dest)
        src = self.source("file_ops.copy", need("file_ops.copy", opts, "src"))
        if os.path.isdir(dest) and not os.path.isdir(src):
            dest = os.path.join(dest, os.path.basename(src))
        if os.path.isdir(src):
            changed = self._copy_tree(src, dest, mode, check)
        else:
            data = read_bytes(src) or b""
            changed = self.put(dest, data, mode if mode is not None else _mode_for(dest, src), check)
        return self._result(changed, dest, src=src)

    def fetch(self, *args: Any) -> dict[str, Any]:
        """The original's fetch: one file copied from `src` to `dest` on this machine (a task
        runs where its files are; delegate it to fetch from an agent's disk)."""
        opts = gather("file_ops.fetch", args, ("src", "dest"))
        src = self.source("file_ops.fetch", need("file_ops.fetch", opts, "src"))
        if os.path.isdir(src):
            raise ModuleError(f"file_ops.fetch: {src} is a folder (use file_ops.copy for folders)")
        result = self.copy({**opts, "src": src})
        return {**result, "size": os.path.getsize(src)}

    def _copy_tree(self, src: str, dest: str, mode: int | None, check: bool) -> bool:
        changed = False
        for folder, _dirs, files in os.walk(src):
            reason = self.sandbox.guard.check()
            if reason is not None:
                raise ModuleError(reason)
            target_dir = os.path.join(dest, os.path.relpath(folder, src))
            if not os.path.isdir(target_dir):
                changed = True
                if not check:
                    os.makedirs(target_dir, exist_ok=True)
            for name in files:
                source, target = os.path.join(folder, name), os.path.join(target_dir, name)
                wanted = mode if mode is not None else _mode_for(target, source)
                changed = self.put(target, read_bytes(source) or b"", wanted, check) or changed
        return changed

    def template(self, *args: Any) -> dict[str, Any]:
        opts = gather("file_ops.template", args, ("src", "dest", "vars"), tables=("vars",))
        src = self.source("file_ops.template", need("file_ops.template", opts, "src"))
        dest = self.path(need("file_ops.template", opts, "dest", "dst"))
        variables = _plain(opts.get("vars", opts.get("variables")))
        source = Path(src).read_text(encoding="utf-8")
        engine = text(opts, "engine") or ("go" if go_template.looks_like_go(source) else "jinja")
        if engine == "go":
            rendered = go_template.render(source, variables or {}, Path(src).name)
        elif engine == "jinja":
            search = list(dict.fromkeys([str(Path(src).parent), str(self.env.base_dir)]))
            rendered = _render(_environment(search), source, variables, src)
        else:
            raise ModuleError(f'file_ops.template: engine must be "jinja" or "go", not {engine!r}')
        mode = file_mode("file_ops.template", opts.get("mode"))
        changed = self.put(dest, rendered.encode(), mode, is_check(self.env, opts))
        return self._result(changed, dest, src=src)

    def _edit(self, where: str, opts: dict[str, Any], edit: Any) -> dict[str, Any]:
        """Apply a text edit to opts.path: read, edit, write only when the text changed."""
        path = self.path(need(where, opts, "path", "dest", "name"))
        old = read_bytes(path)
        if old is None and not flag(opts, "create", True):
            raise ModuleError(f"{where}: {path} does not exist (create = false)")
        before = (old or b"").decode("utf-8")
        after, action = edit(before)
        mode = file_mode(where, opts.get("mode"))
        if old is None and after == before:
            return {"changed": False, "path": path, "action": action}
        changed = self.put(path, after.encode(), mode, is_check(self.env, opts))
        return {**self._result(changed, path), "action": action if changed else "unchanged"}

    def lineinfile(self, *args: Any) -> dict[str, Any]:
        where = "file_ops.lineinfile"
        opts = gather(where, args, ("path", "line"))
        state = _state(where, opts)
        return self._edit(
            where,
            opts,
            lambda before: line_in_file(
                before,
                text(opts, "line"),
                text(opts, "regexp", text(opts, "regex")),
                state,
                text(opts, "insertafter"),
                text(opts, "insertbefore"),
            ),
        )

    def blockinfile(self, *args: Any) -> dict[str, Any]:
        where = "file_ops.blockinfile"
        opts = gather(where, args, ("path", "block"))
        state = _state(where, opts)
        return self._edit(
            where,
            opts,
            lambda before: block_in_file(
                before,
                text(opts, "block", "") or "",
                text(opts, "marker", DEFAULT_MARKER) or DEFAULT_MARKER,
                state,
                text(opts, "marker_begin", "BEGIN") or "BEGIN",
                text(opts, "marker_end", "END") or "END",
                text(opts, "insertafter"),
                text(opts, "insertbefore"),
            ),
        )

    def replace(self, *args: Any) -> dict[str, Any]:
        where = "file_ops.replace"
        opts = gather(where, args, ("path", "pattern", "replacement"))
        pattern = need(where, opts, "pattern", "regexp")
        replacement = text(opts, "replacement", "") or ""
        opts.setdefault("create", False)
        counted: dict[str, int] = {}

        def edit(before: str) -> tuple[str, str]:
            after, counted["n"] = replace_in_text(before, pattern, replacement)
            return after, f"replaced {counted['n']}"

        result = self._edit(where, opts, edit)
        return {**result, "replacements": counted.get("n", 0) if result["changed"] else 0}

    def unarchive(self, *args: Any) -> dict[str, Any]:
        where = "file_ops.unarchive"
        opts = gather(where, args, ("src", "dest"))
        src = self.source(where, need(where, opts, "src"))
        dest = self.path(need(where, opts, "dest", "dst"))
        creates = text(opts, "creates")
        if creates and os.path.exists(self.path(creates)):
            return {"changed": False, "dest": dest, "files": [], "skipped": f"{creates} exists"}
        check = is_check(self.env, opts)
        if not os.path.isdir(dest):
            if os.path.exists(dest):
                raise ModuleError(f"{where}: {dest} exists and is not a directory")
            if not check:
                os.makedirs(dest)
        written = unpack(self.sandbox, src, dest, check)
        return {"changed": bool(written), "dest": dest, "src": src, "files": written}

    def stat(self, *args: Any) -> dict[str, Any]:
        opts = gather("file_ops.stat", args, ("path",))
        path = self.path(need("file_ops.stat", opts, "path"))
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return {"changed": False, "exists": False, "path": path}
        is_link = stat_module.S_ISLNK(info.st_mode)
        if is_link and os.path.exists(path):
            info = os.stat(path)
        result: dict[str, Any] = {
            "changed": False,
            "exists": True,
            "path": path,
            "is_file": stat_module.S_ISREG(info.st_mode),
            "is_dir": stat_module.S_ISDIR(info.st_mode),
            "is_link": is_link,
            "size": info.st_size,
            "mode": mode_text(info.st_mode),
            "uid": info.st_uid,
            "gid": info.st_gid,
            "owner": user_name(info.st_uid),
            "group": group_name(info.st_gid),
            "mtime": info.st_mtime,
        }
        if is_link:
            result["link_target"] = os.readlink(path)
        if result["is_file"] and flag(opts, "checksum", True):
            result["checksum"] = _sha256(self.sandbox, path)
        return result


def _plain(value: Any) -> Any:
    """Data only: Lua functions among template variables are dropped here, on the worker
    thread, without asking the Lua runtime what they are."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if _is_data(v)}
    if isinstance(value, list):
        return [_plain(v) for v in value if _is_data(v)]
    return value


def _is_data(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, dict, list))


def _state(where: str, opts: dict[str, Any]) -> Any:
    state = opts.get("state", "present")
    if state not in STATES:
        raise ModuleError(f"{where}: state must be 'present' or 'absent', got {state!r}")
    return state


def _mode_for(dest: str, src: str) -> int | None:
    """No mode asked: an existing dest keeps its own, a new one takes the source's."""
    if os.path.exists(dest):
        return None
    return current_mode(src)


def _sha256(sandbox: Sandbox, path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            reason = sandbox.guard.check()
            if reason is not None:
                raise ModuleError(reason)
            digest.update(chunk)
    return digest.hexdigest()


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    ops = FileOps(sandbox, env)
    functions = {
        "copy": ops.copy,
        "template": ops.template,
        "lineinfile": ops.lineinfile,
        "blockinfile": ops.blockinfile,
        "replace": ops.replace,
        "unarchive": ops.unarchive,
        "stat": ops.stat,
        "fetch": ops.fetch,
    }
    # Every one reads or writes files of any size: off the event loop.
    table = sandbox.set_module("file_ops", functions, blocking=frozenset(functions))
    results_twice(sandbox, table, [name for name in functions if name != "stat"])  # stat: one value there too
