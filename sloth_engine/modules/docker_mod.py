"""`docker`: containers and images through the real `docker` CLI.

- `docker.run{image, name, command, ports = {"8080:80"}, env = {K = "v"}, volumes =
  {"/src:/dst"}, detach, rm, restart, network, user, workdir}`: with a `name`, a running
  container of that name is left alone (`changed = false`) and a stopped one is started;
  without a name a new container always runs.
- `docker.exec{container, command, user, workdir, env}` (a string command goes through
  `sh -c`); `docker.exec({"ps", "-a"})`, a list, runs `docker ps -a` as in the original.
- `docker.build{tag, path = ".", dockerfile, build_args = {K = "v"}, target, no_cache}`:
  changed when the image id of `tag` changed.
- `docker.push{tag}`: changed when a layer was pushed.
- `docker.ps{all}` -> `{changed = false, containers = {{ID, Names, Image, State, Status, ...}}}`.

Results are `{changed, stdout, stderr, exit_code, success}`, returned twice so that the
original's `local ok, res = docker.build{...}; if res.success then` works as well as `local r =
docker.build{...}`. A failing docker command raises a Lua error with docker's message (a missing
engine says "Cannot connect to the Docker daemon") unless `ignore_errors = true` (then
`success = false`). `check = true` (or the run's check mode) runs only inspections; every change
(or, in check mode, would-be change) is recorded for the run's recap.
"""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.changes import note_change
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, flag, gather, is_check, need, text, timeout
from sloth_engine.modules.original_shape import results_twice
from sloth_engine.modules.proc import Completed, failure, find_tool, run_process

DEFAULT_TIMEOUT = 3600.0


def _pairs(where: str, value: Any, flag_word: str) -> list[str]:
    """{K = "v"} as [flag, "K=v", ...]; a list of "K=v" texts also works."""
    if value is None:
        return []
    if isinstance(value, dict):
        items = [f"{k}={v}" for k, v in sorted(value.items())]
    elif isinstance(value, list):
        items = [str(v) for v in value]
    else:
        raise ModuleError(f"{where}: expected a table, got {value!r}")
    return [word for item in items for word in (flag_word, item)]


def _each(where: str, value: Any, flag_word: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [word for item in items for word in (flag_word, str(item))]


def _command(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return ["sh", "-c", str(value)]


class Docker:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox = sandbox
        self.env = env

    def docker(self, where: str, opts: dict[str, Any], words: list[str], must: bool = True) -> Completed:
        argv = [find_tool("docker", where), *words]
        cwd = self.sandbox.scope.workdir or None  # `path = "."` of a build is the task's workdir
        done = run_process(
            self.sandbox, argv, cwd=cwd, env=environment(), timeout=timeout(opts, DEFAULT_TIMEOUT)
        )
        if must and done.exit_code != 0 and not flag(opts, "ignore_errors"):
            raise failure(where, argv, done)
        return done

    def _result(self, changed: bool, done: Completed | None, **extra: Any) -> dict[str, Any]:
        out = {"changed": changed, "stdout": "", "stderr": "", "exit_code": 0, "success": True, **extra}
        if done is not None:
            out.update(stdout=done.stdout, stderr=done.stderr, exit_code=done.exit_code)
            out["changed"] = changed and done.exit_code == 0
            out["success"] = done.exit_code == 0
        if out["changed"]:
            what = extra.get("name") or extra.get("tag") or ""
            note_change(self.sandbox.scope.log, done is None, f"docker {what}".rstrip())
        return out

    def run(self, *args: Any) -> dict[str, Any]:
        where = "docker.run"
        opts = gather(where, args, ("image",))
        image = need(where, opts, "image")
        name = text(opts, "name")
        if name:
            state = self.docker(where, opts, ["inspect", "-f", "{{.State.Running}}", name], must=False)
            if state.exit_code == 0:
                if state.stdout.strip() == "true":
                    return self._result(False, None, name=name)
                if is_check(self.env, opts):
                    return self._result(True, None, name=name)
                return self._result(True, self.docker(where, opts, ["start", name]), name=name)
        if is_check(self.env, opts):
            return self._result(True, None, name=name)
        words = ["run"]
        for option, word in (("detach", "-d"), ("rm", "--rm")):
            if flag(opts, option):
                words.append(word)
        for option, word in (
            ("name", "--name"),
            ("restart", "--restart"),
            ("network", "--network"),
            ("user", "--user"),
            ("workdir", "--workdir"),
        ):
            if opts.get(option):
                words += [word, str(opts[option])]
        words += _each(where, opts.get("ports"), "-p") + _each(where, opts.get("volumes"), "-v")
        words += _pairs(where, opts.get("env"), "-e") + _pairs(where, opts.get("labels"), "--label")
        words += [image, *_command(opts.get("command")), *[str(a) for a in opts.get("args") or []]]
        done = self.docker(where, opts, words)
        return self._result(True, done, name=name, id=done.stdout.strip() if flag(opts, "detach") else None)

    def exec(self, *args: Any) -> dict[str, Any]:
        where = "docker.exec"
        if len(args) == 1 and isinstance(args[0], list):
            return self._result(True, self.docker(where, {}, [str(a) for a in args[0]]))
        opts = gather(where, args, ("container", "command"))
        container = need(where, opts, "container", "name")
        if is_check(self.env, opts):
            return self._result(True, None)
        words = ["exec"]
        for option, word in (("user", "--user"), ("workdir", "--workdir")):
            if opts.get(option):
                words += [word, str(opts[option])]
        words += _pairs(where, opts.get("env"), "-e")
        command = _command(opts.get("command", opts.get("cmd")))
        if not command:
            raise ModuleError(f"{where}: command is required")
        return self._result(True, self.docker(where, opts, [*words, container, *command]))

    def _image_id(self, where: str, opts: dict[str, Any], tag: str) -> str:
        done = self.docker(where, opts, ["image", "inspect", "-f", "{{.Id}}", tag], must=False)
        return done.stdout.strip() if done.exit_code == 0 else ""

    def build(self, *args: Any) -> dict[str, Any]:
        where = "docker.build"
        opts = gather(where, args, ("tag", "path"))
        tag = need(where, opts, "tag")
        if is_check(self.env, opts):
            return self._result(True, None, tag=tag)
        before = self._image_id(where, opts, tag)
        words = ["build", "-t", tag]
        if opts.get("dockerfile"):
            words += ["-f", str(opts["dockerfile"])]
        if opts.get("target"):
            words += ["--target", str(opts["target"])]
        if flag(opts, "no_cache"):
            words.append("--no-cache")
        words += _pairs(where, opts.get("build_args"), "--build-arg")
        done = self.docker(where, opts, [*words, text(opts, "path", ".") or "."])
        after = self._image_id(where, opts, tag)
        return self._result(after != before, done, tag=tag, id=after)

    def push(self, *args: Any) -> dict[str, Any]:
        where = "docker.push"
        opts = gather(where, args, ("tag",))
        tag = need(where, opts, "tag", "image")
        if is_check(self.env, opts):
            return self._result(True, None, tag=tag)
        done = self.docker(where, opts, ["push", tag])
        return self._result("Pushed" in done.stdout, done, tag=tag)

    def ps(self, *args: Any) -> dict[str, Any]:
        where = "docker.ps"
        opts = gather(where, args, ())
        words = ["ps", "--format", "{{json .}}", "--no-trunc"]
        if flag(opts, "all"):
            words.append("--all")
        done = self.docker(where, opts, words)
        containers = []
        for line in done.stdout.splitlines():
            try:
                containers.append(json.loads(line))
            except ValueError:
                continue
        return self._result(False, done, containers=containers)


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    docker = Docker(sandbox, env)
    functions = {name: getattr(docker, name) for name in ("run", "exec", "build", "push", "ps")}
    table = sandbox.set_module("docker", functions, blocking=frozenset(functions))
    results_twice(sandbox, table, functions)
