"""`terraform` and `pulumi`: infrastructure as code through their command lines.

    local tf = terraform.init("infra")          -- runs `terraform init`; a client for the folder
    local plan = tf:plan({ vars = { region = "eu" } })
    -- plan.success, plan.output, plan.changes = { add, change, destroy, resources = {{address, actions}} }
    tf:apply({ auto_approve = true })  tf:destroy({ auto_approve = true })
    tf:output().outputs.ip   tf:output({ name = "ip" }).value   tf:validate().valid   tf:fmt({ check = true })
    tf:create_tfvars({ region = "eu", zones = { "a", "b" } })   -- writes terraform.tfvars

    pulumi.login("file:///srv/state") -> true, output | false, message
    local st = pulumi.stack("dev", { workdir = "infra" })   -- selects (or creates) the stack
    st:preview().changes   st:up()   st:destroy()   st:outputs().outputs

Each call returns `{success, output, error}` (the original's shape) plus parsed data: plans
and previews count their changes from the tools' JSON (`terraform show -json`, `pulumi
preview --json`), outputs are decoded. The direct forms `terraform.plan({workdir = ...})` etc.
work too. Commands never prompt (`-input=false`, `--yes`, `--non-interactive`) and run with the
task's timeout; a missing CLI is a clear error. In check mode apply/destroy/up only plan.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, is_check, table_or_empty, workdir_path
from sloth_engine.modules.proc import find_tool, run_process

DEFAULT_TIMEOUT = 3600.0

_CLIENT_LUA = r"""
local py, kind = ...
local setmetatable, type, ipairs, error = setmetatable, type, ipairs, error
local methods = {}
local names = { "preview", "up", "destroy", "outputs", "refresh" }
if kind == "terraform" then
  names = { "plan", "apply", "destroy", "validate", "fmt", "output", "create_tfvars" }
end
for _, name in ipairs(names) do
  methods[name] = function(self, opts)
    if type(self) ~= "table" or self.workdir == nil then error(kind .. " client: call it with ':'", 2) end
    return py(name, self.workdir, self.stack, opts)
  end
end
local mt = { __index = methods }
return function(workdir, stack) return setmetatable({ workdir = workdir, stack = stack }, mt) end
"""


class Runner:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv, tool: str) -> None:
        self.sandbox, self.env, self.tool = sandbox, env, tool

    def run(self, workdir: str, *words: str) -> dict[str, Any]:
        argv = [find_tool(self.tool, self.tool), *words]
        quiet = {"TF_IN_AUTOMATION": "1"} if self.tool == "terraform" else {"PULUMI_SKIP_UPDATE_CHECK": "1"}
        done = run_process(self.sandbox, argv, cwd=workdir, env=environment(quiet), timeout=DEFAULT_TIMEOUT)
        result: dict[str, Any] = {"success": done.exit_code == 0, "output": done.stdout}
        result["exit_code"] = done.exit_code
        if done.exit_code != 0:
            result["error"] = (done.stderr.strip() or done.stdout.strip())[-4000:] or f"exit {done.exit_code}"
        return result


def _var_args(opts: dict[str, Any]) -> list[str]:
    words = [f"-var-file={opts['var_file']}"] if opts.get("var_file") else []
    for key, value in sorted((opts.get("vars") or {}).items()):
        words.append(f"-var={key}={_hcl(value) if not isinstance(value, str) else value}")
    return words


def plan_changes(document: dict[str, Any]) -> dict[str, Any]:
    """{add, change, destroy, resources} from `terraform show -json` of a plan."""
    counts, resources = {"add": 0, "change": 0, "destroy": 0}, []
    for item in document.get("resource_changes") or []:
        actions = list((item.get("change") or {}).get("actions") or [])
        if actions == ["no-op"] or actions == ["read"]:
            continue
        resources.append({"address": item.get("address"), "actions": actions})
        if "create" in actions:
            counts["add"] += 1
        if "delete" in actions:
            counts["destroy"] += 1
        if actions == ["update"]:
            counts["change"] += 1
    return {**counts, "resources": resources}


def _hcl(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return json.dumps(value)  # strings, lists and maps: HCL reads JSON's forms


class Terraform:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox, self.env = sandbox, env
        self.cli = Runner(sandbox, env, "terraform")

    def workdir(self, default: str | None, opts: dict[str, Any]) -> str:
        return workdir_path(self.sandbox, str(opts.get("workdir") or default or "."))

    def init(self, where: str, opts: dict[str, Any]) -> dict[str, Any]:
        words = ["init", "-input=false", "-no-color"]
        flags = {"upgrade": "-upgrade", "reconfigure": "-reconfigure", "migrate_state": "-migrate-state"}
        words += [flag for key, flag in flags.items() if opts.get(key)]
        if opts.get("backend") is False:
            words.append("-backend=false")
        if opts.get("backend_config"):
            words.append(f"-backend-config={opts['backend_config']}")
        return self.cli.run(where, *words)

    def plan(self, where: str, opts: dict[str, Any]) -> dict[str, Any]:
        out = str(opts.get("out") or "")
        planfile = os.path.join(where, out or f".sloth-{uuid.uuid4().hex[:12]}.tfplan")
        words = ["plan", "-input=false", "-no-color", f"-out={planfile}", *_var_args(opts)]
        if opts.get("destroy"):
            words.append("-destroy")
        if opts.get("refresh") is False:
            words.append("-refresh=false")
        result = self.cli.run(where, *words)
        if result["success"]:
            shown = self.cli.run(where, "show", "-json", planfile)
            if shown["success"]:
                result["changes"] = plan_changes(json.loads(shown["output"] or "{}"))
        if not out and os.path.exists(planfile):
            os.unlink(planfile)
        return result

    def action(self, verb: str, where: str, opts: dict[str, Any]) -> dict[str, Any]:
        if is_check(self.env, opts):
            return self.plan(where, {**opts, "destroy": verb == "destroy"})
        words = [verb, "-input=false", "-no-color", *_var_args(opts)]
        if opts.get("auto_approve"):
            words.append("-auto-approve")
        if verb == "apply" and opts.get("plan"):
            words = [verb, "-input=false", "-no-color", str(opts["plan"])]
        return self.cli.run(where, *words)

    def output(self, where: str, opts: dict[str, Any]) -> dict[str, Any]:
        name = str(opts.get("name") or "")
        result = self.cli.run(where, "output", "-json", *([name] if name else []))
        if result["success"]:
            decoded = json.loads(result["output"] or "null")
            if name:
                result["value"] = decoded
            else:
                result["outputs"] = {k: (v or {}).get("value") for k, v in (decoded or {}).items()}
        return result

    def call(self, method: str, default: str | None, opts_value: Any) -> dict[str, Any]:
        opts = table_or_empty(opts_value)
        where = self.workdir(default, opts)
        if method == "init":
            return self.init(where, opts)
        if method == "plan":
            return self.plan(where, opts)
        if method in ("apply", "destroy"):
            return self.action(method, where, opts)
        if method == "output":
            return self.output(where, opts)
        if method == "validate":
            result = self.cli.run(where, "validate", "-json", "-no-color")
            text = result["output"].strip()
            document = json.loads(text) if text.startswith("{") else {}
            result.update(valid=bool(document.get("valid")), diagnostics=document.get("diagnostics", []))
            return result
        if method == "fmt":
            words = [
                "fmt",
                *(["-check"] if opts.get("check") else []),
                *(["-diff"] if opts.get("diff") else []),
            ]
            return self.cli.run(where, *words)
        if method == "create_tfvars":
            variables = opts.get("vars", opts)
            name = str(opts.get("filename") or "terraform.tfvars") if "vars" in opts else "terraform.tfvars"
            text = "".join(f"{k} = {_hcl(v)}\n" for k, v in sorted(variables.items()) if k != "workdir")
            path = os.path.join(where, name)
            with open(path, "w") as handle:
                handle.write(text)
            return {"success": True, "output": path}
        raise ModuleError(f"terraform: unknown method {method}")


class Pulumi:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox, self.env = sandbox, env
        self.cli = Runner(sandbox, env, "pulumi")

    def call(self, method: str, workdir: str, stack: str, opts_value: Any) -> dict[str, Any]:
        opts = table_or_empty(opts_value)
        base = ["--stack", stack, "--non-interactive"]
        if method == "select":
            found = self.cli.run(workdir, "stack", "select", stack, "--non-interactive")
            return (
                found
                if found["success"]
                else self.cli.run(workdir, "stack", "init", stack, "--non-interactive")
            )
        if method == "preview" or (method in ("up", "destroy") and is_check(self.env, opts)):
            result = self.cli.run(workdir, "preview", "--json", *base)
            if result["output"].strip().startswith("{"):
                summary = json.loads(result["output"]).get("changeSummary") or {}
                result["changes"] = {
                    "add": summary.get("create", 0),
                    "change": summary.get("update", 0),
                    "destroy": summary.get("delete", 0),
                    "same": summary.get("same", 0),
                }
            return result
        if method in ("up", "destroy", "refresh"):
            return self.cli.run(workdir, method, "--yes", "--skip-preview", *base)
        if method == "outputs":
            result = self.cli.run(workdir, "stack", "output", "--json", *base)
            if result["success"]:
                result["outputs"] = json.loads(result["output"] or "{}")
            return result
        raise ModuleError(f"pulumi: unknown method {method}")


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    tf, pl = Terraform(sandbox, env), Pulumi(sandbox, env)

    def tf_bridge(method: str, workdir: Any, _stack: Any, opts: Any) -> dict[str, Any]:
        return tf.call(method, None if workdir is None else str(workdir), opts)

    tf_client = sandbox.run_lua(
        _CLIENT_LUA, "terraform", sandbox.function(tf_bridge, blocking=True), "terraform"
    )

    def tf_init(value: Any = None) -> Any:
        opts = table_or_empty(value) if isinstance(value, dict) else {"workdir": value}
        return tf.call("init", None, opts)

    def direct(method: str) -> Any:
        return lambda value=None: tf.call(method, None, value)

    methods = ("plan", "apply", "destroy", "validate", "fmt", "output", "create_tfvars")
    table = sandbox.set_module("terraform", {m: direct(m) for m in methods}, blocking=frozenset(methods))
    table["init"] = sandbox.run_lua(
        _INIT_LUA, "terraform", sandbox.function(tf_init, blocking=True), tf_client
    )

    def pl_bridge(method: str, workdir: Any, stack: Any, opts: Any) -> dict[str, Any]:
        return pl.call(method, str(workdir), str(stack), opts)

    pl_client = sandbox.run_lua(_CLIENT_LUA, "pulumi", sandbox.function(pl_bridge, blocking=True), "pulumi")

    def login(url: Any = None) -> Any:
        where = workdir_path(sandbox, ".")
        result = pl.cli.run(where, "login", *([str(url)] if url else []), "--non-interactive")
        return (True, result["output"]) if result["success"] else (False, result.get("error", ""))

    def select(name: Any, opts: Any = None) -> Any:
        where = workdir_path(sandbox, str(table_or_empty(opts).get("workdir") or "."))
        result = pl.call("select", where, str(name), opts)
        return (where, str(name)) if result["success"] else (None, result.get("error", ""))

    pulumi = sandbox.set_module("pulumi", {"login": login}, blocking=frozenset({"login"}))
    pulumi["stack"] = sandbox.run_lua(
        _STACK_LUA, "pulumi", sandbox.function(select, blocking=True), pl_client
    )


_INIT_LUA = r"""
local init, client = ...
return function(value)
  local result = init(value)
  if not result.success then return result end
  local workdir = type(value) == "table" and value.workdir or value or "."
  return client(workdir)
end
"""

_STACK_LUA = r"""
local select_stack, client = ...
return function(name, opts)
  local workdir, stack = select_stack(name, opts)
  if workdir == nil then return nil, stack end
  return client(workdir, stack)
end
"""
