"""`exec`: run a command and capture its output.

`exec.run(cmd[, opts])`: `cmd` is a string (run by `/bin/sh -c`) or a list (argv, no shell).
`opts`: `workdir` (default: the task's workdir, else the process cwd), `env` (merged over the
host environment), `timeout` (seconds or `"30s"`), `input` (text for stdin; stdin is
/dev/null otherwise), `max_output` (bytes kept of each stream, default 16 MiB: the rest is
read and dropped and the result says `truncated = true`).
The result `{stdout, stderr, exit_code, success, truncated}` also behaves as its
stdout: `tostring(r)`, `r .. "x"`, `r:match(...)`, `#r`. A failing command is not an error:
check `r.success`. On its own timeout the command's process group is killed and the result
has `exit_code = 124`. When the task is stopped (timeout, cancel) the process group is
killed and exec.run raises. Output is returned, not logged.

`exec.command(cmd, ...)`: the same; string arguments after `cmd` make an argv.
"""

from __future__ import annotations

import os
from typing import Any

from sloth_engine.durations import parse_duration
from sloth_engine.lua.limits import MAX_READ_BYTES
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.proc import run_process

_RESULT_LUA = """
local string_, tostring_, rawget_, setmetatable_ = string, tostring, rawget, setmetatable
local mt = {}
mt.__tostring = function(r) return rawget_(r, "stdout") end
mt.__concat = function(a, b) return tostring_(a) .. tostring_(b) end
mt.__len = function(r) return #rawget_(r, "stdout") end
mt.__index = function(r, key)
  if key == "output" then return rawget_(r, "stdout") end
  local method = string_[key]
  if method == nil then return nil end
  return function(self, ...)
    if self == r then return method(rawget_(r, "stdout"), ...) end
    return method(self, ...)
  end
end
return function(stdout, stderr, exit_code, truncated)
  return setmetatable_({
    stdout = stdout, stderr = stderr, exit_code = exit_code, success = exit_code == 0,
    truncated = truncated == true,
  }, mt)
end
"""


def _argv(cmd: Any) -> tuple[list[str], bool]:
    """The argv to start and whether it goes through the shell."""
    if isinstance(cmd, str):
        if not cmd.strip():
            raise ValueError("exec.run: empty command")
        return ["/bin/sh", "-c", cmd], True
    if isinstance(cmd, list) and cmd:
        if not all(isinstance(part, (str, int, float)) for part in cmd):
            raise ValueError("exec.run: every argv item must be a string")
        return [str(part) for part in cmd], False
    raise ValueError("exec.run: command must be a string or a non-empty list of strings")


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"exec.run: env values must be strings, got {type(value).__name__}")


def _environment(extra: Any) -> dict[str, str]:
    env = dict(os.environ)
    if extra is None:
        return env
    if not isinstance(extra, dict):
        raise ValueError("exec.run: env must be a table of NAME = value")
    env.update({str(key): _env_value(value) for key, value in extra.items()})
    return env


def _max_output(value: Any) -> int:
    if value is None:
        return MAX_READ_BYTES
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("exec.run: max_output must be a number of bytes")
    return int(value)


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    make_result = sandbox.run_lua(_RESULT_LUA, "exec")

    def workdir(value: Any) -> str:
        base = sandbox.scope.workdir or os.getcwd()
        if value is None or value == "":
            return base
        path = os.path.join(base, os.path.expanduser(str(value)))
        if not os.path.isdir(path):
            raise ModuleError(f"exec.run: workdir {path} does not exist")
        return path

    def run(cmd: Any = None, opts: Any = None) -> Any:
        if opts is None:
            opts = {}
        if not isinstance(opts, dict):
            raise ValueError("exec.run: options must be a table")
        argv, shell = _argv(cmd)
        if env.check_mode and not opts.get("check_mode_run"):
            # --check changes nothing: a command is reported, not run (as Ansible's check mode
            # skips command and shell); `check_mode_run = true` runs a read-only command anyway.
            shown = " ".join(argv) if not shell else str(cmd)
            sandbox.scope.log("stdout", f"[check] would run: {shown}")
            return make_result("", "", 0)
        raw_timeout = opts.get("timeout")
        timeout = parse_duration(raw_timeout) if raw_timeout not in (None, "", 0) else None
        stdin = opts.get("input", opts.get("stdin"))
        done = run_process(
            sandbox,
            argv,
            cwd=workdir(opts.get("workdir", opts.get("cwd"))),
            env=_environment(opts.get("env")),
            timeout=timeout,
            stdin=None if stdin is None else str(stdin),
            shell=shell,
            max_output=_max_output(opts.get("max_output")),
        )
        # The strings are pushed into Lua outside a protected call: measure them first.
        sandbox.make_room((done.stdout, done.stderr))
        return make_result(done.stdout, done.stderr, done.exit_code, done.truncated)

    def command(cmd: Any = None, *rest: Any) -> Any:
        opts = rest[-1] if rest and isinstance(rest[-1], dict) else None
        args = rest[:-1] if opts is not None else rest
        if args:
            base = cmd if isinstance(cmd, list) else [cmd]
            return run([*base, *args], opts)
        return run(cmd, opts)

    sandbox.set_module("exec", {"run": run, "command": command}, blocking={"run", "command"})
