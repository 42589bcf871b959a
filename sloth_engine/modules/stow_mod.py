"""`stow`: dotfiles linked into place with GNU Stow, both of the original's function sets.

The global set (`true, message` | `false, message`):

    stow.link{package, source_dir, target_dir, verbose, no_folding, create_target = true}
    stow.unlink{package, source_dir, target_dir}     stow.restow{package, source_dir, target_dir}
    stow.ensure_target{path, owner, mode = "0755"}

and the set of `require("stow")` (a list of results per package, nil | nil, message):

    stow.stow{package | packages, target = $HOME, dir = $HOME/.dotfiles, verbose, no_folding,
              ignore = {...}, override = {...}, defer = {...}}
        -> { {package, changed, status = "stowed" | "already_stowed", target, output, links}, ... }
    stow.unstow{...}  stow.restow{...}  stow.adopt{...}
    stow.check{...} / stow.simulate{...} -> { {package, output, would_succeed}, ... }
    stow.get_links{...} -> { {link, ...}, ... }      stow.is_stowed{...} -> bool (or a list)
    stow.list_packages{dir} -> {names}, nil          stow.verify{...} -> {package, total_files,
        stowed_links, is_complete, broken_links, is_valid} (a list for several packages)

(`restow` with `source_dir` is the global form.) Whether anything would change is asked of
stow itself with a dry run (`stow -n -v`): nothing to link means "already stowed", and in
check mode the dry run's actions are reported and nothing is linked.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.host_tool import Tool
from sloth_engine.modules.options import file_mode, flag, table_or_empty

ACTIONS = ("LINK:", "UNLINK:", "MKDIR:", "RMDIR:", "MV:")


def net_actions(output: str) -> list[str]:
    """stow's verbose actions less those a later one reverts (a restow of a stowed package)."""
    kept: dict[str, str] = {}
    for line in output.splitlines():
        if not line.startswith(ACTIONS):
            continue
        name = line.split(":", 1)[1].split(" => ")[0].strip()
        if line.endswith("(reverts previous action)"):
            kept.pop(name, None)
        else:
            kept[name] = line
    return list(kept.values())


class Config:
    """One call's settings: the original's two spellings of them in one place."""

    def __init__(self, opts: dict[str, Any], globals_form: bool) -> None:
        home = os.path.expanduser("~")
        if globals_form:
            for key in ("package", "source_dir", "target_dir"):
                if not opts.get(key):
                    raise ModuleError(f"stow: {key} is required")
            self.packages = [str(opts["package"])]
            self.dir, self.target = str(opts["source_dir"]), str(opts["target_dir"])
        else:
            found = opts.get("packages") or ([opts["package"]] if opts.get("package") else [])
            if not isinstance(found, list) or not found:
                raise ModuleError("stow: package name or packages list is required")
            self.packages = [str(p) for p in found]
            self.dir = str(opts.get("dir") or opts.get("stow_dir") or os.path.join(home, ".dotfiles"))
            self.target = str(opts.get("target") or home)
        self.dir = os.path.abspath(os.path.expanduser(self.dir))
        self.target = os.path.abspath(os.path.expanduser(self.target))
        self.opts = opts

    def words(self, action: str, package: str) -> list[str]:
        words = ["stow", action, "-d", self.dir, "-t", self.target, "-v"]
        words += ["--no-folding"] if flag(self.opts, "no_folding") else []
        for key in ("ignore", "override", "defer"):
            for pattern in self.opts.get(key) or []:
                words += [f"--{key}", str(pattern)]
        return [*words, package]

    def files(self, package: str) -> list[str]:
        root = os.path.join(self.dir, package)
        found = []
        for folder, _dirs, names in os.walk(root):
            found += [os.path.relpath(os.path.join(folder, n), root) for n in names]
        return sorted(found)

    def links(self, package: str) -> list[str]:
        """The package's files whose place in the target resolves to them (folded or not)."""
        root = os.path.realpath(os.path.join(self.dir, package))
        return [
            f
            for f in self.files(package)
            if os.path.lexists(os.path.join(self.target, f))
            and os.path.realpath(os.path.join(self.target, f)) == os.path.join(root, f)
        ]


class Stow:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "stow")

    def plan(self, cfg: Config, action: str, package: str) -> tuple[bool, list[str], str]:
        """A dry run: (would succeed, its net actions, its output)."""
        words = cfg.words(action, package)
        done = self.tool.run([words[0], "-n", *words[1:]], cfg.opts)
        output = (done.stdout + done.stderr).strip()
        return done.exit_code == 0, net_actions(output), output

    def act(self, cfg: Config, action: str, package: str) -> tuple[bool | None, str]:
        """(True: changed | None: nothing to do | False: failed, output)."""
        ok, actions, output = self.plan(cfg, action, package)
        if not ok:
            return False, output
        if not actions:
            return None, output
        verb = {"-S": "link", "-D": "unlink", "-R": "restow", "--adopt": "adopt"}[action]
        what = f"{verb} {package} into {cfg.target}"
        if self.tool.check(cfg.opts):
            self.tool.noted(cfg.opts, what)
            return True, "would " + "; ".join(actions)
        ok, out = self.tool.change(cfg.opts, what, cfg.words(action, package))
        return (True, out) if ok else (False, out)

    # ---- the global set ---------------------------------------------------------------

    def simple(self, action: str, opts: Any) -> tuple[bool, str]:
        try:
            cfg = Config(table_or_empty(opts), True)
        except ModuleError as exc:
            return False, str(exc).removeprefix("stow: ")
        package, name = cfg.packages[0], {"-S": "link", "-D": "unlink", "-R": "restow"}[action]
        if action == "-S" and flag(cfg.opts, "create_target", True) and not os.path.isdir(cfg.target):
            if self.tool.check(cfg.opts):
                return True, f"would create {cfg.target} and link {package}"
            os.makedirs(cfg.target, 0o755, exist_ok=True)
        changed, out = self.act(cfg, action, package)
        if changed is False:
            return False, f"stow {name} failed: {out}"
        if changed is None:
            return True, "package already stowed" if action != "-D" else "package not stowed"
        if out.startswith("would "):
            return True, out
        return True, out if flag(cfg.opts, "verbose") and out else f"stow {name} successful"

    def ensure_target(self, opts: Any) -> tuple[bool, str]:
        options = table_or_empty(opts)
        path = str(options.get("path") or "")
        if not path:
            return False, "path is required"
        if os.path.exists(path):
            if not os.path.isdir(path):
                return False, f"{path} exists but is not a directory"
            return True, f"directory {path} already exists"
        if self.tool.check(options):
            self.tool.noted(options, f"create {path}")
            return True, f"would create directory {path}"
        os.makedirs(path, file_mode("stow.ensure_target", options.get("mode") or "0755") or 0o755)
        owner = options.get("owner")
        if owner and owner != "root":
            try:
                entry = pwd.getpwnam(str(owner))
            except KeyError:
                return False, f"failed to set ownership: no user {owner}"
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.tool.noted(options, f"create {path}")
        return True, f"directory {path} created successfully"

    # ---- the require("stow") set ------------------------------------------------------

    def each(self, action: str, opts: Any) -> tuple[Any, Any]:
        cfg = Config(table_or_empty(opts), False)
        status = {"-S": "stowed", "-D": "unstowed", "-R": "restowed", "--adopt": "adopted"}[action]
        results = []
        for package in cfg.packages:
            if not os.path.isdir(os.path.join(cfg.dir, package)):
                results.append({"package": package, "error": f"no package {package} in {cfg.dir}"})
                continue
            changed, out = self.act(cfg, action, package)
            result: dict[str, Any] = {"package": package, "output": out, "changed": bool(changed)}
            if changed is False:
                result["error"] = f"stow {action.lstrip('-')} failed: {out}"
            elif changed is None:
                result["status"] = {"-S": "already_stowed", "-D": "not_stowed"}.get(action, status)
            else:
                result["status"] = status
            if action in ("-S", "-R"):
                result["target"], result["links"] = cfg.target, cfg.links(package)
            results.append(result)
        return results, None

    def check(self, opts: Any) -> tuple[Any, Any]:
        cfg = Config(table_or_empty(opts), False)
        results = []
        for package in cfg.packages:
            ok, _actions, output = self.plan(cfg, "-S", package)
            results.append({"package": package, "output": output, "would_succeed": ok})
        return results, None

    def get_links(self, opts: Any) -> tuple[Any, Any]:
        cfg = Config(table_or_empty(opts), False)
        return [cfg.links(p) for p in cfg.packages], None

    def is_stowed(self, opts: Any) -> Any:
        try:
            cfg = Config(table_or_empty(opts), False)
        except ModuleError:
            return False
        found = [bool(cfg.links(p)) for p in cfg.packages]
        return found[0] if len(found) == 1 else found

    def list_packages(self, opts: Any = None) -> tuple[Any, Any]:
        folder = str(table_or_empty(opts).get("dir") or os.path.join(os.path.expanduser("~"), ".dotfiles"))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            return None, f"failed to read stow directory: {exc.strerror}: {folder}"
        return [e.name for e in entries if e.is_dir() and not e.name.startswith(".")], None

    def verify(self, opts: Any) -> Any:
        cfg = Config(table_or_empty(opts), False)
        out = []
        for package in cfg.packages:
            files, links = cfg.files(package), cfg.links(package)
            broken = [f for f in links if not os.path.exists(os.path.join(cfg.target, f))]
            out.append(
                {
                    "package": package,
                    "total_files": len(files),
                    "stowed_links": len(links),
                    "is_complete": len(links) == len(files),
                    "broken_links": broken,
                    "is_valid": not broken,
                }
            )
        return out[0] if len(out) == 1 else out


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    s = Stow(sandbox, env)

    def restow(opts: Any = None) -> Any:
        if isinstance(opts, dict) and "source_dir" in opts:
            return s.simple("-R", opts)
        return s.each("-R", opts)

    functions: dict[str, Callable[..., Any]] = {
        "link": lambda opts=None: s.simple("-S", opts),
        "unlink": lambda opts=None: s.simple("-D", opts),
        "restow": restow,
        "ensure_target": s.ensure_target,
        "stow": lambda opts=None: s.each("-S", opts),
        "unstow": lambda opts=None: s.each("-D", opts),
        "adopt": lambda opts=None: s.each("--adopt", opts),
        "check": s.check,
        "simulate": s.check,
        "get_links": s.get_links,
        "is_stowed": s.is_stowed,
        "list_packages": s.list_packages,
        "verify": s.verify,
    }
    local = {"ensure_target", "get_links", "is_stowed", "list_packages", "verify"}
    sandbox.set_module("stow", functions, blocking=frozenset(functions) - local)
