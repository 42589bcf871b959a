"""`firewall`: rules on whichever firewall the host has (firewalld, ufw, nftables, iptables).

    firewall.detect() -> "firewalld" | "ufw" | "nftables" | "iptables" | "unknown"
    firewall.rule():allow():protocol("tcp"):port(443):from("10.0.0.0/8"):comment("web"):apply()
        builder methods: allow deny protocol port port_range from to zone chain direction
        comment; then apply() / remove() -> message, nil | nil, message; exists() -> bool, nil
        (direction "out": ufw's `out` rules, the OUTPUT chain of iptables and nftables)
    firewall.allow_port(22[, "tcp"])  deny_port(port[, proto])  allow_from(cidr)  deny_from(cidr)
        -> message, nil | nil, message (idempotent: "... already allowed (idempotent)")
    firewall.enable() disable() status() list() flush() save() reload() -> text, nil | nil, message

The backend is detected as the original does (firewall-cmd, then ufw, then nft, then
iptables); `{backend = "nftables"}` as a last argument (or `:backend(...)` on a rule) picks
one. Rules are checked before they are added or removed, so applying twice changes nothing:
firewalld through `--query-port`/`--query-rich-rule`, ufw through `ufw show added`,
iptables through `-C`, nftables by the rule's text in `nft -a list chain` (removed by its
handle). In check mode nothing is changed and the message says what would run.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.atomic_write import read_bytes, write_atomic
from sloth_engine.modules.host_tool import Tool, split
from sloth_engine.modules.options import table_or_empty

BACKENDS = (("firewalld", "firewall-cmd"), ("ufw", "ufw"), ("nftables", "nft"), ("iptables", "iptables"))
SAVE_FILES = {"iptables": "/etc/iptables/rules.v4", "nftables": "/etc/nftables.conf"}
Rule = dict[str, Any]


def detect(opts: dict[str, Any] | None = None) -> str:
    chosen = (opts or {}).get("backend")
    if chosen:
        if chosen not in dict(BACKENDS):
            raise ModuleError(f"firewall: unknown backend {chosen!r} (firewalld, ufw, nftables, iptables)")
        return str(chosen)
    return next((name for name, program in BACKENDS if shutil.which(program)), "unknown")


def port_text(rule: Rule) -> str:
    return str(rule.get("port") or rule.get("port_range") or "")


def ufw_words(rule: Rule) -> list[str]:
    """The rule as `ufw show added` prints it (ufw's own canonical form)."""
    words, port, proto = [rule["action"]], port_text(rule), rule["protocol"]
    words += ["out"] if rule.get("direction") == "out" else []
    source, dest = rule.get("from"), rule.get("to")
    if not (port or source or dest):
        raise ModuleError("firewall: a rule needs a port or an address")
    if not (source or dest):
        return words + [port if proto == "any" else f"{port}/{proto}"]
    words += ["from", source] if source else []
    if dest or port:
        words += ["to", dest or "any"]
    if port:
        words += ["port", port] + (["proto", proto] if proto != "any" else [])
    return words


def iptables_words(rule: Rule) -> list[str]:
    words = ["-p", rule["protocol"]] if rule["protocol"] != "any" else []
    words += ["-s", rule["from"]] if rule.get("from") else []
    words += ["-d", rule["to"]] if rule.get("to") else []
    words += ["--dport", port_text(rule)] if port_text(rule) else []
    words += ["-m", "comment", "--comment", rule["comment"]] if rule.get("comment") else []
    return words + ["-j", "ACCEPT" if rule["action"] == "allow" else "DROP"]


def nft_text(rule: Rule) -> str:
    """The rule's statements as `nft list` prints them back."""
    parts = [f"ip saddr {rule['from']}"] if rule.get("from") else []
    parts += [f"ip daddr {rule['to']}"] if rule.get("to") else []
    port = port_text(rule).replace(":", "-")
    if port:
        if rule["protocol"] not in ("tcp", "udp"):
            raise ModuleError("firewall: nftables port rules need protocol tcp or udp")
        parts.append(f"{rule['protocol']} dport {port}")
    parts.append("accept" if rule["action"] == "allow" else "drop")
    return " ".join(parts)


def firewalld_rich(rule: Rule) -> str | None:
    """A rich rule for what --add-port cannot say (a deny, an address); None for a plain port."""
    if rule["action"] == "allow" and not rule.get("from") and port_text(rule):
        return None
    text = 'rule family="ipv4"' if rule.get("from") else "rule"
    text += f' source address="{rule["from"]}"' if rule.get("from") else ""
    if port_text(rule):
        text += f' port port="{port_text(rule).replace(":", "-")}" protocol="{rule["protocol"]}"'
    return text + (" accept" if rule["action"] == "allow" else " drop")


class Firewall:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.tool = Tool(sandbox, env, "firewall")

    def chosen(self, opts: dict[str, Any]) -> str:
        name = detect(opts)
        if name == "unknown":
            raise ModuleError("firewall: none of firewall-cmd, ufw, nft, iptables is installed (on PATH)")
        return name

    # ---- rules ------------------------------------------------------------------------

    def exists(self, rule: Rule) -> bool:
        backend, run = rule["backend"], self.tool
        if backend == "firewalld":
            zone = f"--zone={rule['zone']}"
            rich = firewalld_rich(rule)
            if rich is None:
                return run.ok(["firewall-cmd", zone, f"--query-port={port_text(rule)}/{rule['protocol']}"])
            return run.ok(["firewall-cmd", zone, f"--query-rich-rule={rich}"])
        if backend == "ufw":
            ok, out = run.output(["ufw", "show", "added"])
            wanted = "ufw " + " ".join(ufw_words(rule))
            return any(line.split(" comment ")[0].strip() == wanted for line in out.splitlines())
        if backend == "iptables":
            return run.ok(["iptables", "-C", rule["chain"], *iptables_words(rule)])
        return self.nft_handle(rule) is not None

    def nft_handle(self, rule: Rule) -> str | None:
        ok, out = self.tool.output(["nft", "-a", "list", "chain", "inet", "filter", rule["chain"].lower()])
        wanted = nft_text(rule)
        for line in out.splitlines() if ok else []:
            body, _, handle = line.strip().partition(" # handle ")
            if re.sub(r' comment ".*"$', "", body) == wanted:
                return handle.strip()
        return None

    def rule_commands(self, rule: Rule, adding: bool) -> list[list[str]]:
        backend = rule["backend"]
        if backend == "firewalld":
            rich, zone = firewalld_rich(rule), f"--zone={rule['zone']}"
            verb = "--add" if adding else "--remove"
            port = f"{port_text(rule)}/{rule['protocol']}"
            change = f"{verb}-port={port}" if rich is None else f"{verb}-rich-rule={rich}"
            return [["firewall-cmd", "--permanent", zone, change], ["firewall-cmd", "--reload"]]
        if backend == "ufw":
            comment = ["comment", rule["comment"]] if rule.get("comment") and adding else []
            return [["ufw", *([] if adding else ["delete"]), *ufw_words(rule), *comment]]
        if backend == "iptables":
            return [["iptables", "-A" if adding else "-D", rule["chain"], *iptables_words(rule)]]
        chain = rule["chain"].lower()
        if not adding:
            handle = self.nft_handle(rule)
            return [["nft", "delete", "rule", "inet", "filter", chain, "handle", str(handle)]]
        note = f' comment "{rule["comment"]}"' if rule.get("comment") else ""
        return [
            ["nft", "add", "table", "inet", "filter"],
            ["nft", f"add chain inet filter {chain} {{ type filter hook {chain} priority 0 ; }}"],
            ["nft", f"add rule inet filter {chain} {nft_text(rule)}{note}"],
        ]

    def apply(self, rule: Rule, adding: bool = True, label: str = "Rule") -> tuple[Any, Any]:
        rule = self.normal(rule)
        there = self.exists(rule)
        if there == adding:
            return f"{label} already {'exists' if adding else 'absent'} (idempotent)", None
        verb = "add" if adding else "remove"
        what = f"{verb} {rule['backend']} rule {rule['action']} {describe_rule(rule)}"
        ok, out = self.tool.change(rule, what, *self.rule_commands(rule, adding))
        if not ok:
            return None, f"failed to {'apply' if adding else 'remove'} rule: {out}"
        verb = "applied" if adding else "removed"
        return (out if out.startswith("would ") else f"{label} {verb} successfully: {out}".rstrip(": ")), None

    def normal(self, rule: Rule) -> Rule:
        outbound = str(rule.get("direction") or "in").lower() == "out"
        spec = {"protocol": "tcp", "zone": "public", "chain": "OUTPUT" if outbound else "INPUT", **rule}
        spec["direction"] = "out" if outbound else "in"
        if spec.get("action") not in ("allow", "deny"):
            raise ModuleError("firewall: a rule needs :allow() or :deny()")
        spec["protocol"] = str(spec["protocol"]).lower()
        spec["chain"] = str(spec["chain"]).upper()
        spec["backend"] = self.chosen(spec)
        return spec

    def simple(self, action: str, rule: Rule, label: str) -> tuple[Any, Any]:
        done = "allowed" if action == "allow" else "denied"
        message, error = self.apply({**rule, "action": action}, True, label)
        if message and message.endswith("(idempotent)"):
            return f"{label} already {done} (idempotent)", None
        if message and not message.startswith("would "):
            return f"{label} {done} successfully", None
        return message, error

    # ---- whole firewall ---------------------------------------------------------------

    def verb(self, name: str, opts: dict[str, Any]) -> tuple[Any, Any]:
        backend = self.chosen(opts)
        commands = VERBS[name].get(backend)
        if commands is None:
            return None, f"{name} not supported for backend: {backend}"
        if name in ("enable", "disable"):
            active = self.active(backend)
            if active == (name == "enable"):
                return f"Firewall already {name}d (idempotent)", None
        if name in ("status", "list"):
            done = self.tool.run(commands[0], opts)
            text = (done.stdout + done.stderr).strip()
            if done.exit_code != 0 and name == "list":
                return None, f"failed to list rules: {text}"
            return text, None
        ok, out = self.tool.change(opts, f"{name} {backend}", *commands)
        if not ok:
            return None, f"failed to {name} firewall: {out}"
        return (out if out.startswith("would ") else f"{DONE[name]}: {out}".rstrip(": ")), None

    def active(self, backend: str) -> bool:
        if backend == "firewalld":
            return self.tool.output(["firewall-cmd", "--state"])[1].strip() == "running"
        return "Status: active" in self.tool.output(["ufw", "status"])[1]

    def save(self, opts: dict[str, Any]) -> tuple[Any, Any]:
        backend = self.chosen(opts)
        if backend == "ufw":
            return "UFW rules are automatically saved", None
        if backend == "firewalld":
            return self.verb("save_firewalld", opts)
        path = str(opts.get("file") or SAVE_FILES[backend])
        words = ["iptables-save"] if backend == "iptables" else ["nft", "list", "ruleset"]
        ok, out = self.tool.output(words, opts)
        if not ok:
            return None, f"failed to save rules: {out}"
        data = (out + "\n").encode()
        if read_bytes(path) == data:
            return f"Rules already saved in {path} (idempotent)", None
        self.tool.noted(opts, f"save {backend} {path}")
        if self.tool.check(opts):
            return f"would write the rules to {path}", None
        write_atomic(path, data, 0o640)
        return f"Rules saved: {path}", None

    def reload(self, opts: dict[str, Any]) -> tuple[Any, Any]:
        backend = self.chosen(opts)
        if backend in ("firewalld", "ufw"):
            return self.verb("reload", opts)
        path = str(opts.get("file") or SAVE_FILES[backend])
        if backend == "nftables":
            ok, out = self.tool.change(opts, f"reload nftables {path}", ["nft", "-f", path])
        else:
            saved = read_bytes(path)
            if saved is None:
                return None, f"failed to reload firewall: {path} does not exist"
            restore = ["iptables-restore"]
            ok, out = self.tool.change(opts, f"reload iptables {path}", restore, stdin=saved.decode())
        if not ok:
            return None, f"failed to reload firewall: {out}"
        return (out if out.startswith("would ") else f"Firewall reloaded: {out}".rstrip(": ")), None


def describe_rule(rule: Rule) -> str:
    bits = [f"port {port_text(rule)}/{rule['protocol']}"] if port_text(rule) else []
    bits += [f"from {rule['from']}"] if rule.get("from") else []
    bits += [f"to {rule['to']}"] if rule.get("to") else []
    return " ".join(bits)


VERBS: dict[str, dict[str, list[list[str]]]] = {
    "enable": {
        "firewalld": [["systemctl", "enable", "--now", "firewalld"]],
        "ufw": [["ufw", "--force", "enable"]],
    },
    "disable": {
        "firewalld": [["systemctl", "disable", "--now", "firewalld"]],
        "ufw": [["ufw", "disable"]],
    },
    "status": {
        "firewalld": [["firewall-cmd", "--state"]],
        "ufw": [["ufw", "status"]],
        "iptables": [["iptables", "-L", "-n", "-v"]],
        "nftables": [["nft", "list", "ruleset"]],
    },
    "list": {
        "firewalld": [["firewall-cmd", "--list-all"]],
        "ufw": [["ufw", "status", "numbered"]],
        "iptables": [["iptables", "-L", "-n", "--line-numbers"]],
        "nftables": [["nft", "list", "ruleset"]],
    },
    "flush": {
        "firewalld": [["firewall-cmd", "--reload"]],
        "ufw": [["ufw", "--force", "reset"]],
        "iptables": [["iptables", "-F"]],
        "nftables": [["nft", "flush", "ruleset"]],
    },
    "save_firewalld": {"firewalld": [["firewall-cmd", "--runtime-to-permanent"]]},
    "reload": {"firewalld": [["firewall-cmd", "--reload"]], "ufw": [["ufw", "reload"]]},
}
DONE = {
    "enable": "Firewall enabled",
    "disable": "Firewall disabled",
    "flush": "Rules flushed",
    "save_firewalld": "Rules saved",
    "reload": "Firewall reloaded",
}

_BUILDER = r"""
local py = ...
local setmetatable, type, ipairs, pairs = setmetatable, type, ipairs, pairs
local rule_mt = {}
rule_mt.__index = rule_mt
for _, key in ipairs({"protocol", "port", "port_range", "from", "to", "zone", "chain",
                      "direction", "comment", "backend"}) do
  rule_mt[key] = function(self, value) self.spec[key] = value return self end
end
function rule_mt:allow() self.spec.action = "allow" return self end
function rule_mt:deny() self.spec.action = "deny" return self end
function rule_mt:apply() return py.apply(self.spec) end
function rule_mt:remove() return py.remove(self.spec) end
function rule_mt:exists() return py.exists(self.spec) end
local M = {}
for name, fn in pairs(py.module) do M[name] = fn end
function M.rule(opts)
  local spec = {}
  if type(opts) == "table" then for k, v in pairs(opts) do spec[k] = v end end
  return setmetatable({spec = spec}, rule_mt)
end
return M
"""


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    fw = Firewall(sandbox, env)

    def with_opts(count: int, fn: Callable[..., tuple[Any, Any]]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            values, opts = split(args, count)
            return fn(*values, opts)

        return call

    def port_rule(action: str) -> Callable[..., Any]:
        def call(port: Any, protocol: Any, opts: dict[str, Any]) -> tuple[Any, Any]:
            if not isinstance(port, (int, float)) and not str(port or "").isdigit():
                raise ModuleError(f"firewall.{action}_port: a port number is required")
            proto = str(protocol or "tcp")
            rule = {**opts, "port": int(port), "protocol": proto}
            return fw.simple(action, rule, f"Port {int(port)}/{proto}")

        return with_opts(2, call)

    def source_rule(action: str) -> Callable[..., Any]:
        def call(source: Any, opts: dict[str, Any]) -> tuple[Any, Any]:
            if not source:
                raise ModuleError(f"firewall.{action}_from: a source address is required")
            return fw.simple(action, {**opts, "from": str(source), "protocol": "any"}, f"Source {source}")

        return with_opts(1, call)

    def exists(spec: Any) -> tuple[bool, Any]:
        return fw.exists(fw.normal(table_or_empty(spec))), None

    module: dict[str, Callable[..., Any]] = {
        "detect": lambda opts=None: detect(table_or_empty(opts)),
        "allow_port": port_rule("allow"),
        "deny_port": port_rule("deny"),
        "allow_from": source_rule("allow"),
        "deny_from": source_rule("deny"),
        "save": lambda opts=None: fw.save(table_or_empty(opts)),
        "reload": lambda opts=None: fw.reload(table_or_empty(opts)),
    }
    for verb in ("enable", "disable", "status", "list", "flush"):
        module[verb] = lambda opts=None, _v=verb: fw.verb(_v, table_or_empty(opts))
    rule_calls = {
        "apply": lambda spec: fw.apply(table_or_empty(spec), True),
        "remove": lambda spec: fw.apply(table_or_empty(spec), False),
        "exists": exists,
    }
    py = sandbox.lua.table_from(
        {
            "module": sandbox.lua.table_from(
                {k: sandbox.function(v, blocking=k != "detect") for k, v in module.items()}
            ),
            **{k: sandbox.function(v, blocking=True) for k, v in rule_calls.items()},
        }
    )
    sandbox.globals()["firewall"] = sandbox.run_lua(_BUILDER, "firewall", py)
