"""`incus`: containers and VMs through the incus CLI, with the original's builders.

    incus.instance("web"):image("images:debian/12"):profile("default"):config({["limits.cpu"] = 2})
         :device("root", {type = "disk", path = "/", pool = "default"}):ephemeral()
         :launch() | :create() | :start() | :stop({force, timeout}) | :restart() | :freeze()
         | :unfreeze() | :copy(new) | :move(new) | :proxy(device, listen, connect)
    incus.image(alias):source("debian/12"):server("images"):copy() | :export(path) | :refresh()
    incus.network(name):type("bridge"):config({...}):create() | :attach(instance[, dev]) | :detach(...)
    incus.profile(name):description(t):config({...}):device(n, {type = ..., ...}):create()
         | :apply(instance) | :copy(new)
    incus.storage(name):driver("dir"):config({...}):create() | :volume(name)
    incus.snapshot(instance, name):stateful():create() | :restore() | :delete()
    incus.exec{instance, command, user, group, cwd, env}   incus.list{type = "instances", format = "json"}
    incus.info{type = "instance", name}   incus.delete{type = "instance", name, force}

Builder methods return the object (and nil), actions return incus's output, nil or nil, message
(the original's shapes). Actions look first: creating what exists, starting what runs,
stopping what is stopped, deleting what is gone change nothing and say so (`... (idempotent)`).
In check mode nothing is run but those looks, and the message says what would run.
`delegate_to(target)` is kept for files written for the original but places nothing: the task
runs where its own `delegate_to` puts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.host_tool import Tool
from sloth_engine.modules.options import table_or_empty

SHOW = {
    "image": ["image", "info"],
    "network": ["network", "show"],
    "profile": ["profile", "show"],
    "storage": ["storage", "show"],
}
LISTS = {
    "instances": ["list"],
    "images": ["image", "list"],
    "networks": ["network", "list"],
    "profiles": ["profile", "list"],
    "storage": ["storage", "list"],
}
Result = tuple[Any, Any]


def pairs(config: Any) -> list[str]:
    return [f"{k}={_text(v)}" for k, v in sorted(table_or_empty(config).items())]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def need(spec: dict[str, Any], key: str, what: str) -> str:
    value = spec.get(key)
    if not value:
        raise ModuleError(f"incus: {what} is required")
    return str(value)


class Incus:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "incus")

    def act(self, spec: dict[str, Any], what: str, *commands: list[str]) -> Result:
        ok, out = self.tool.change(spec, what, *(["incus", *c] for c in commands))
        return (out, None) if ok else (None, out)

    def exists(self, kind: str, name: str) -> bool:
        return self.tool.ok(["incus", *SHOW[kind], name])

    def state(self, name: str) -> dict[str, Any] | None:
        ok, out = self.tool.output(["incus", "list", name, "--format=json"])
        if not ok:
            raise ModuleError(f"incus: cannot list instances: {out}")
        found = [i for i in json.loads(out or "[]") if i.get("name") == name]
        return found[0] if found else None

    # ---- instances --------------------------------------------------------------------

    def instance(self, spec: Any, op: str, *args: Any) -> Result:
        spec = table_or_empty(spec)
        name = need(spec, "name", "instance name")
        found = self.state(name)
        status = str((found or {}).get("status", "")).lower()
        if op in ("create", "launch"):
            if found is not None and (op == "create" or status == "running"):
                return f"Instance {name} already exists (idempotent)", None
            if found is not None:
                return self.act(spec, f"start {name}", ["start", name])
            return self.act(spec, f"{op} {name}", self.create_words(spec, op, name))
        if found is None:
            return None, f"Instance {name} does not exist"
        opts = table_or_empty(args[0] if args else None)
        if op in ("copy", "move"):
            target = need({"new": args[0] if args else None}, "new", "new name")
            if self.state(target) is not None:
                return f"Instance {target} already exists (idempotent)", None
            return self.act(spec, f"{op} {name} {target}", [op, name, target])
        wanted = {"start": "running", "stop": "stopped", "freeze": "frozen", "unfreeze": "running"}.get(op)
        if wanted == status:
            return f"Instance {name} already {wanted} (idempotent)", None
        words = {"freeze": ["pause", name], "unfreeze": ["start", name]}.get(op, [op, name])
        if op in ("stop", "restart"):
            words += ["--force"] if opts.get("force") else []
            words += ["--timeout", str(int(opts.get("timeout") or 30))]
        return self.act(spec, f"{op} {name}", words)

    @staticmethod
    def create_words(spec: dict[str, Any], op: str, name: str) -> list[str]:
        image = need(spec, "image", f"an image for {name}")
        words = [op, image, name]
        for profile in spec.get("profiles") or []:
            words += ["-p", str(profile)]
        words += [w for pair in pairs(spec.get("config")) for w in ("-c", pair)]
        words += ["--ephemeral"] if spec.get("ephemeral") else []
        for device, settings in sorted(table_or_empty(spec.get("devices")).items()):
            words += [w for pair in pairs(settings) for w in ("-d", f"{device},{pair}")]
        return words

    def proxy(self, spec: Any, device: Any, listen: Any, connect: Any) -> Result:
        spec = table_or_empty(spec)
        name = need(spec, "name", "instance name")
        ok, shown = self.tool.output(["incus", "config", "device", "show", name])
        if ok and f"\n{device}:" in f"\n{shown}":
            return f"Device {device} already on {name} (idempotent)", None
        return self.act(
            spec,
            f"proxy {name} {device}",
            ["config", "device", "add", name, str(device), "proxy", f"listen={listen}", f"connect={connect}"],
        )

    # ---- images, networks, profiles, storage, snapshots ---------------------------------

    def image(self, spec: Any, op: str, path: Any = None) -> Result:
        spec = table_or_empty(spec)
        alias = need(spec, "alias", "image alias")
        if op == "copy":
            if self.exists("image", alias):
                return f"Image {alias} already exists (idempotent)", None
            source = f"{spec.get('server') or 'images'}:{need(spec, 'source', 'image source')}"
            return self.act(
                spec, f"copy image {alias}", ["image", "copy", source, "local:", f"--alias={alias}"]
            )
        if op == "export":
            return self.act(spec, f"export image {alias}", ["image", "export", alias, str(path)])
        return self.act(spec, f"refresh image {alias}", ["image", "refresh", alias])

    def network(self, spec: Any, op: str, instance: Any = None, device: Any = None) -> Result:
        spec = table_or_empty(spec)
        name = need(spec, "name", "network name")
        if op == "create":
            if self.exists("network", name):
                return f"Network {name} already exists (idempotent)", None
            kind = [f"--type={spec['type']}"] if spec.get("type") else []
            return self.act(
                spec, f"create network {name}", ["network", "create", name, *kind, *pairs(spec.get("config"))]
            )
        dev = str(device or "eth0")
        ok, shown = self.tool.output(["incus", "config", "device", "show", str(instance)])
        there = ok and f"\n{dev}:" in f"\n{shown}"
        if there == (op == "attach"):
            return (
                f"Device {dev} already {'attached to' if there else 'detached from'} {instance} (idempotent)",
                None,
            )
        return self.act(spec, f"{op} {name} {instance}", ["network", op, name, str(instance), dev])

    def profile(self, spec: Any, op: str, other: Any = None) -> Result:
        spec = table_or_empty(spec)
        name = need(spec, "name", "profile name")
        if op == "apply":
            found = self.state(str(other))
            if found is None:
                return None, f"Instance {other} does not exist"
            if name in (found.get("profiles") or []):
                return f"Profile {name} already on {other} (idempotent)", None
            return self.act(spec, f"apply profile {name} {other}", ["profile", "add", str(other), name])
        if op == "copy":
            if self.exists("profile", str(other)):
                return f"Profile {other} already exists (idempotent)", None
            return self.act(spec, f"copy profile {name}", ["profile", "copy", name, str(other)])
        if self.exists("profile", name):
            return f"Profile {name} already exists (idempotent)", None
        commands = [["profile", "create", name]]
        if spec.get("description"):
            commands.append(["profile", "set", name, "--property", f"description={spec['description']}"])
        commands += [["profile", "set", name, pair] for pair in pairs(spec.get("config"))]
        for device, settings in sorted(table_or_empty(spec.get("devices")).items()):
            rest = {k: v for k, v in table_or_empty(settings).items() if k != "type"}
            kind = need(table_or_empty(settings), "type", f"a type for device {device}")
            commands.append(["profile", "device", "add", name, device, kind, *pairs(rest)])
        out, err = self.act(spec, f"create profile {name}", *commands)
        return (
            (f"Profile {name} created successfully", None)
            if err is None and not out.startswith("would")
            else (out, err)
        )

    def storage(self, spec: Any, op: str, volume: Any = None) -> Result:
        spec = table_or_empty(spec)
        name = need(spec, "name", "storage pool name")
        if op == "volume":
            if self.tool.ok(["incus", "storage", "volume", "show", name, str(volume)]):
                return f"Volume {volume} already exists (idempotent)", None
            return self.act(
                spec, f"create volume {name}/{volume}", ["storage", "volume", "create", name, str(volume)]
            )
        if self.exists("storage", name):
            return f"Storage pool {name} already exists (idempotent)", None
        driver = need(spec, "driver", f"a driver for {name}")
        return self.act(
            spec, f"create storage {name}", ["storage", "create", name, driver, *pairs(spec.get("config"))]
        )

    def snapshot(self, spec: Any, op: str) -> Result:
        spec = table_or_empty(spec)
        instance, name = need(spec, "instance", "instance name"), need(spec, "name", "snapshot name")
        ok, out = self.tool.output(["incus", "snapshot", "list", instance, "--format=csv", "--columns=n"])
        if not ok:
            return None, out
        there = name in out.split()
        if op == "create" and there:
            return f"Snapshot {instance}/{name} already exists (idempotent)", None
        if op == "delete" and not there:
            return f"Snapshot {instance}/{name} does not exist (idempotent)", None
        if op == "restore" and not there:
            return None, f"Snapshot {instance}/{name} does not exist"
        words = [
            "snapshot",
            op,
            instance,
            name,
            *(["--stateful"] if op == "create" and spec.get("stateful") else []),
        ]
        return self.act(spec, f"snapshot {op} {instance}/{name}", words)

    # ---- module functions -------------------------------------------------------------

    def exec(self, opts: Any) -> Result:
        spec = table_or_empty(opts)
        instance = spec.get("instance")
        command = spec.get("command")
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        if not instance:
            return None, "instance name is required"
        if not command:
            return None, "command is required"
        words = ["exec", str(instance)]
        for key in ("user", "group", "cwd"):
            words += [f"--{key}", str(spec[key])] if spec.get(key) else []
        words += [w for pair in pairs(spec.get("env")) for w in ("--env", pair)]
        return self.act(spec, f"exec {instance}", [*words, "--", "sh", "-c", str(command)])

    def listing(self, opts: Any) -> Result:
        spec = table_or_empty(opts)
        kind = str(spec.get("type") or "instances")
        if kind not in LISTS:
            return None, f"unknown resource type: {kind}"
        ok, out = self.tool.output(["incus", *LISTS[kind], f"--format={spec.get('format') or 'json'}"])
        return (out, None) if ok else (None, out)

    @staticmethod
    def resource(opts: Any) -> tuple[str, str] | str:
        """(type, name) of info/delete's table, or what is wrong with it."""
        spec = table_or_empty(opts)
        kind, name = str(spec.get("type") or "instance"), spec.get("name")
        if not name:
            return "name is required"
        if kind != "instance" and kind not in SHOW:
            return f"unknown resource type: {kind}"
        return kind, str(name)

    def info(self, opts: Any) -> Result:
        found = self.resource(opts)
        if isinstance(found, str):
            return None, found
        kind, name = found
        ok, out = self.tool.output(["incus", *(SHOW[kind] if kind != "instance" else ["info"]), name])
        return (out, None) if ok else (None, out)

    def delete(self, opts: Any) -> Result:
        found = self.resource(opts)
        if isinstance(found, str):
            return None, found
        kind, name = found
        spec = table_or_empty(opts)
        there = self.state(name) is not None if kind == "instance" else self.exists(kind, name)
        if not there:
            return f"{kind.capitalize()} {name} does not exist (idempotent)", None
        prefix = [] if kind == "instance" else [SHOW[kind][0]]
        force = ["--force"] if kind == "instance" and spec.get("force") else []
        return self.act(spec, f"delete {kind} {name}", [*prefix, "delete", name, *force])


_BUILDERS = r"""
local py = ...
local setmetatable, type, pairs, ipairs = setmetatable, type, pairs, ipairs
local M = {}
local function builder(kind, setters, actions)
  local mt = {}
  mt.__index = mt
  setters.config, setters.delegate_to = setters.config or "config", "target"
  for name, key in pairs(setters) do
    mt[name] = function(self, value, extra)
      if key == "profiles" then self.spec.profiles[#self.spec.profiles + 1] = value
      elseif key == "config" then for k, v in pairs(value or {}) do self.spec.config[k] = v end
      elseif key == "devices" then self.spec.devices[value] = extra or {}
      elseif key == "flag" then self.spec[name] = (value == nil) or value
      else self.spec[key] = value end
      return self, nil
    end
  end
  for _, name in ipairs(actions) do
    mt[name] = function(self, ...) return py[kind](self.spec, name, ...) end
  end
  return mt
end
local instance_mt = builder("instance",
  {image = "image", profile = "profiles", device = "devices", ephemeral = "flag"},
  {"create", "launch", "start", "stop", "restart", "freeze", "unfreeze", "copy", "move"})
function instance_mt:proxy(device, listen, connect)
  local _, err = py.proxy(self.spec, device, listen, connect)
  if err then return nil, err end
  return self, nil
end
local image_mt = builder("image", {source = "source", server = "server"}, {"copy", "export", "refresh"})
local network_mt = builder("network", {type = "type"}, {"create", "attach", "detach"})
local profile_mt = builder("profile", {description = "description", device = "devices"},
  {"create", "apply", "copy"})
local storage_mt = builder("storage", {driver = "driver"}, {"create", "volume"})
local snapshot_mt = builder("snapshot", {stateful = "flag"}, {"create", "restore", "delete"})
local function new(mt, spec)
  spec.config, spec.profiles, spec.devices = {}, {}, {}
  return setmetatable({spec = spec}, mt)
end
function M.instance(name) return new(instance_mt, {name = name}) end
function M.image(alias) return new(image_mt, {alias = alias}) end
function M.network(name) return new(network_mt, {name = name}) end
function M.profile(name) return new(profile_mt, {name = name}) end
function M.storage(name) return new(storage_mt, {name = name}) end
function M.snapshot(instance, name) return new(snapshot_mt, {instance = instance, name = name}) end
M.exec, M.list, M.info, M.delete = py.exec, py.list, py.info, py.delete
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    incus = Incus(sandbox, env)
    calls: dict[str, Callable[..., Any]] = {
        "instance": incus.instance,
        "proxy": incus.proxy,
        "image": incus.image,
        "network": incus.network,
        "profile": incus.profile,
        "storage": incus.storage,
        "snapshot": incus.snapshot,
        "exec": incus.exec,
        "list": incus.listing,
        "info": incus.info,
        "delete": incus.delete,
    }
    py = sandbox.lua.table_from({k: sandbox.function(v, blocking=True) for k, v in calls.items()})
    sandbox.globals()["incus"] = sandbox.run_lua(_BUILDERS, "incus", py)
