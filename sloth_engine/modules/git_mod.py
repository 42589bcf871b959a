"""`git`: repositories through the real `git`, idempotently.

Each function takes one table or positional values in the order shown:

- `git.clone{url, dest, branch, depth}`: clones unless `dest` already is a clone of `url`
- `git.pull{path, remote, branch}`: `git pull --ff-only`; changed when HEAD moved
- `git.checkout{path, ref, create}`: switches to a branch, tag or commit unless already there
  (`create = true`: a new branch)
- `git.commit{path, message, all = true, author_name, author_email, allow_empty}`: stages
  everything (unless `all = false`) and commits when something is staged
- `git.push{path, remote = "origin", branch, tags, force, set_upstream}`: changed when a ref
  of the remote moved (`git push --porcelain`)
- `git.status{path}` -> `{changed = false, clean, branch, upstream, ahead, behind, files =
  {{status, path}, ...}}`; `git.is_repo(path)` -> boolean
- `git.ensure_clean{path}`: the original's: removes `path` so a clone starts afresh (not the
  filesystem root or home) -> `true, nil` or `false, message`

Changing functions return `{changed, path, head, stdout, stderr, exit_code}` and raise a Lua
error when git fails (unless `ignore_errors = true`). `check = true` (or the run's check
mode) only looks: clone and commit report what they would do, pull compares with
`git ls-remote`, push runs `--dry-run`. Relative paths are in the task's workdir. git never
prompts (GIT_TERMINAL_PROMPT=0); a commit without a configured identity is made as
`sloth-runner <sloth-runner@localhost>` unless `author_name`/`author_email` are given.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from sloth_engine.changes import note_change
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import (
    environment,
    flag,
    gather,
    is_check,
    need,
    text,
    timeout,
    workdir_path,
)
from sloth_engine.modules.proc import Completed, failure, find_tool, run_process

DEFAULT_TIMEOUT = 600.0
DEFAULT_AUTHOR = ("sloth-runner", "sloth-runner@localhost")
MOVED = (" ", "+", "-", "*")
"""`git push --porcelain` flags of refs that changed on the remote ('=' is up to date)."""


class Git:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def git(
        self, where: str, opts: dict[str, Any], words: list[str], cwd: str | None, must: bool = True
    ) -> Completed:
        argv = [find_tool("git", where), *words]
        done = run_process(
            self.sandbox,
            argv,
            cwd=cwd or self.sandbox.scope.workdir or os.getcwd(),
            env=environment(),
            timeout=timeout(opts, DEFAULT_TIMEOUT),
        )
        if must and done.exit_code != 0 and not flag(opts, "ignore_errors"):
            raise failure(where, argv, done)
        return done

    def repo(self, where: str, opts: dict[str, Any]) -> str:
        path = workdir_path(self.sandbox, need(where, opts, "path", "dest", "repo"))
        if not self._toplevel(where, path):
            raise ModuleError(f"{where}: {path} is not a git repository")
        return path

    def _toplevel(self, where: str, path: str) -> bool:
        if not os.path.isdir(path):
            return False
        done = self.git(where, {}, ["rev-parse", "--show-toplevel"], path, must=False)
        return done.exit_code == 0 and os.path.realpath(done.stdout.strip()) == os.path.realpath(path)

    def head(self, where: str, path: str) -> str:
        done = self.git(where, {}, ["rev-parse", "--verify", "--quiet", "HEAD"], path, must=False)
        return done.stdout.strip()

    def _result(self, changed: bool, path: str, done: Completed | None, where: str) -> dict[str, Any]:
        if changed:
            note_change(self.sandbox.scope.log, done is None, f"{where} {path}")
        out = {"changed": changed, "path": path, "stdout": "", "stderr": "", "exit_code": 0}
        if done is not None:
            out.update(stdout=done.stdout, stderr=done.stderr, exit_code=done.exit_code)
        if os.path.isdir(path):
            out["head"] = self.head(where, path)
        return out

    # ---- the functions ---------------------------------------------------------------------------

    def clone(self, *args: Any) -> dict[str, Any]:
        where = "git.clone"
        opts = gather(where, args, ("url", "dest"))
        url = need(where, opts, "url", "repo")
        dest = workdir_path(self.sandbox, need(where, opts, "dest", "path", "local_path"))
        if self._toplevel(where, dest):
            origin = self.git(where, opts, ["config", "--get", "remote.origin.url"], dest, must=False)
            if origin.stdout.strip() != url:
                found = origin.stdout.strip() or "no origin"
                raise ModuleError(f"{where}: {dest} is a clone of {found}, not of {url}")
            return self._result(False, dest, None, where)
        if os.path.isdir(dest) and os.listdir(dest):
            raise ModuleError(f"{where}: {dest} exists, is not empty and is not a clone of {url}")
        if is_check(self.env, opts):
            return {"changed": True, "path": dest, "stdout": "", "stderr": "", "exit_code": 0}
        words = ["clone"]
        if opts.get("branch"):
            words += ["--branch", str(opts["branch"])]
        if opts.get("depth"):
            words += ["--depth", str(int(opts["depth"]))]
        done = self.git(where, opts, [*words, "--", url, dest], None)
        return self._result(done.exit_code == 0, dest, done, where)

    def pull(self, *args: Any) -> dict[str, Any]:
        where = "git.pull"
        opts = gather(where, args, ("path", "remote", "branch"))
        path = self.repo(where, opts)
        remote, branch = text(opts, "remote"), text(opts, "branch")
        before = self.head(where, path)
        if is_check(self.env, opts):
            return self._result(self._behind(where, opts, path, remote, branch, before), path, None, where)
        words = ["pull", "--ff-only"]
        if remote or branch:
            words.append(remote or "origin")
        if branch:
            words.append(branch)
        done = self.git(where, opts, words, path)
        return self._result(self.head(where, path) != before, path, done, where)

    def _behind(
        self, where: str, opts: dict[str, Any], path: str, remote: str | None, branch: str | None, head: str
    ) -> bool:
        """Check mode of pull: does the remote branch have a commit HEAD does not contain?"""
        ref = branch or self.git(where, opts, ["symbolic-ref", "--short", "HEAD"], path).stdout.strip()
        listed = self.git(where, opts, ["ls-remote", remote or "origin", f"refs/heads/{ref}"], path)
        theirs = listed.stdout.split()[0] if listed.stdout.split() else ""
        if not theirs or theirs == head:
            return False
        known = self.git(where, opts, ["merge-base", "--is-ancestor", theirs, "HEAD"], path, must=False)
        return known.exit_code != 0

    def checkout(self, *args: Any) -> dict[str, Any]:
        where = "git.checkout"
        opts = gather(where, args, ("path", "ref"))
        path = self.repo(where, opts)
        ref = need(where, opts, "ref", "branch", "version")
        current = self.git(where, opts, ["symbolic-ref", "--quiet", "--short", "HEAD"], path, must=False)
        if current.exit_code == 0 and current.stdout.strip() == ref:
            return self._result(False, path, None, where)
        local = self.git(
            where, opts, ["rev-parse", "--verify", "--quiet", f"refs/heads/{ref}"], path, must=False
        )
        if current.exit_code != 0 and local.exit_code != 0:
            target = self.git(
                where, opts, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], path, must=False
            )
            if target.exit_code == 0 and target.stdout.strip() == self.head(where, path):
                return self._result(False, path, None, where)
        if is_check(self.env, opts):
            return self._result(True, path, None, where)
        create = flag(opts, "create") and local.exit_code != 0
        done = self.git(where, opts, ["checkout", "-b", ref] if create else ["checkout", ref], path)
        return self._result(done.exit_code == 0, path, done, where)

    def commit(self, *args: Any) -> dict[str, Any]:
        where = "git.commit"
        opts = gather(where, args, ("path", "message"))
        path = self.repo(where, opts)
        message = need(where, opts, "message", "msg")
        stage_all = flag(opts, "all", True)
        if is_check(self.env, opts):
            if stage_all:
                pending = self.git(where, opts, ["status", "--porcelain"], path).stdout.strip() != ""
            else:
                pending = (
                    self.git(where, opts, ["diff", "--cached", "--quiet"], path, must=False).exit_code != 0
                )
            return self._result(pending or flag(opts, "allow_empty"), path, None, where)
        if stage_all:
            self.git(where, opts, ["add", "-A"], path)
        staged = self.git(where, opts, ["diff", "--cached", "--quiet"], path, must=False).exit_code != 0
        if not staged and not flag(opts, "allow_empty"):
            return self._result(False, path, None, where)
        words = [*self._identity(where, opts, path), "commit", "-m", message]
        if flag(opts, "allow_empty"):
            words.append("--allow-empty")
        done = self.git(where, opts, words, path)
        return self._result(done.exit_code == 0, path, done, where)

    def _identity(self, where: str, opts: dict[str, Any], path: str) -> list[str]:
        name, email = text(opts, "author_name"), text(opts, "author_email")
        if name is None:
            configured = self.git(where, opts, ["config", "user.name"], path, must=False).stdout.strip()
            name = None if configured else DEFAULT_AUTHOR[0]
        if email is None:
            configured = self.git(where, opts, ["config", "user.email"], path, must=False).stdout.strip()
            email = None if configured else DEFAULT_AUTHOR[1]
        words = []
        if name:
            words += ["-c", f"user.name={name}"]
        if email:
            words += ["-c", f"user.email={email}"]
        return words

    def push(self, *args: Any) -> dict[str, Any]:
        where = "git.push"
        opts = gather(where, args, ("path", "remote", "branch"))
        path = self.repo(where, opts)
        words = ["push", "--porcelain"]
        if is_check(self.env, opts):
            words.append("--dry-run")
        for option, word in (("force", "--force"), ("tags", "--tags"), ("follow_tags", "--follow-tags")):
            if flag(opts, option):
                words.append(word)
        if flag(opts, "set_upstream"):
            words.append("--set-upstream")
        remote, branch = text(opts, "remote"), text(opts, "branch")
        if remote or branch:
            words.append(remote or "origin")
        if branch:
            words.append(branch)
        done = self.git(where, opts, words, path)
        moved = [line for line in done.stdout.splitlines() if line[:1] in MOVED and "\t" in line]
        return self._result(bool(moved) and done.exit_code == 0, path, done, where)

    def status(self, *args: Any) -> dict[str, Any]:
        where = "git.status"
        opts = gather(where, args, ("path",))
        path = self.repo(where, opts)
        done = self.git(where, opts, ["status", "--porcelain=v1", "--branch"], path)
        lines = done.stdout.splitlines()
        head = lines[0][3:] if lines and lines[0].startswith("## ") else ""
        files = [{"status": line[:2], "path": line[3:]} for line in lines[1:] if line.strip()]
        return {
            "changed": False,
            "path": path,
            "clean": not files,
            "files": files,
            **_branch_line(head),
            "head": self.head(where, path),
            "stdout": done.stdout,
            "stderr": done.stderr,
            "exit_code": done.exit_code,
        }

    def is_repo(self, *args: Any) -> bool:
        opts = gather("git.is_repo", args, ("path",))
        path = workdir_path(self.sandbox, need("git.is_repo", opts, "path"))
        if not os.path.isdir(path):
            return False
        done = self.git("git.is_repo", opts, ["rev-parse", "--is-inside-work-tree"], path, must=False)
        return done.exit_code == 0 and done.stdout.strip() == "true"


def _branch_line(text: str) -> dict[str, Any]:
    """`main...origin/main [ahead 1, behind 2]` as branch, upstream, ahead, behind."""
    info: dict[str, Any] = {"branch": "", "upstream": "", "ahead": 0, "behind": 0}
    names, _, counts = text.partition(" [")
    if names.startswith("No commits yet on "):
        names = names[len("No commits yet on ") :]
    branch, _, upstream = names.partition("...")
    info["branch"], info["upstream"] = branch.strip(), upstream.strip()
    for part in counts.rstrip("]").split(","):
        word, _, number = part.strip().partition(" ")
        if word in ("ahead", "behind") and number.isdigit():
            info[word] = int(number)
    return info


def ensure_clean(sandbox: Sandbox, env: ModuleEnv, opts: Any) -> Any:
    """The original's ensure_clean{path}: removes `path` (a folder or file) so that a clone
    starts afresh; `true, nil`, or `false, message`. Refuses the filesystem root and home."""
    path = opts.get("path") if isinstance(opts, dict) else opts
    if not isinstance(path, str) or not path:
        return False, "path is required"
    full = os.path.realpath(workdir_path(sandbox, path))
    if full in ("/", os.path.realpath(os.path.expanduser("~"))):
        return False, f"refusing to remove {full}"
    if not os.path.lexists(full) or is_check(env, opts if isinstance(opts, dict) else {}):
        return True, None
    try:
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    except OSError as exc:
        return False, f"failed to clean directory: {exc}"
    return True, None


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    repo = Git(sandbox, env)
    names = ("clone", "pull", "checkout", "commit", "push", "status", "is_repo")
    functions = {name: getattr(repo, name) for name in names}
    functions["ensure_clean"] = lambda opts=None: ensure_clean(sandbox, env, opts)
    sandbox.set_module("git", functions, blocking=frozenset(functions))
