"""`kubernetes`: kubectl, with the original module's functions and result shapes.

Positional arguments first, then an options table; every function takes `namespace` and
`context` options. Changing functions return `true, output` or `false, message`; queries
return `output, nil` or `nil, message` (the original's conventions):

    apply(manifest_path_or_yaml, {dry_run})               delete(type, name, {force, grace_period})
    get(type, {name, output = "json", selector, all_namespaces})   describe(type, name)
    logs(pod, {container, tail, since})                   exec(pod, command, {container})
    port_forward(type, name, ports)  (started in the background, ended with the task)
    scale(type, name, replicas)       rollout(action, type, name, {revision})
    patch(type, name, patch_json, {type = "merge"})        label(type, name, "k=v k2=v2", {overwrite})
    annotate(type, name, "k=v ...", {overwrite})            create_namespace(name)   delete_namespace(name)
    get_nodes(), get_pods({selector, all_namespaces}), get_services(), get_deployments()  -- JSON text
    create_secret(kind, name, {from_literal, from_file})   create_configmap(name, {from_literal, from_file})
    wait_for_ready(type, name, {timeout = "300s"})         top(node|pod)   events({field_selector})

`apply` takes a file path or the manifest text itself (fed on stdin). In check mode changing
functions run with `--dry-run=client` where kubectl has it and report what would change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, is_check, workdir_path
from sloth_engine.modules.proc import find_tool, run_process
from sloth_engine.process import DEVNULL, start

DEFAULT_TIMEOUT = 600.0
DRY_RUN = frozenset({"apply", "delete", "scale", "patch", "label", "annotate", "create"})


def _opts(args: tuple[Any, ...], count: int) -> tuple[list[str], dict[str, Any]]:
    values, opts = list(args[:count]), args[count] if len(args) > count else None
    if any(v is None for v in values):
        raise ModuleError(f"kubernetes: expected {count} arguments before the options")
    return [str(v) for v in values], opts if isinstance(opts, dict) else {}


def _common(opts: dict[str, Any]) -> list[str]:
    words = ["-n", str(opts["namespace"])] if opts.get("namespace") else []
    return words + (["--context", str(opts["context"])] if opts.get("context") else [])


class Kubectl:
    def __init__(self, sandbox: Sandbox, env: ModuleEnv) -> None:
        self.sandbox, self.env = sandbox, env

    def run(self, words: list[str], opts: dict[str, Any], stdin: str | None = None) -> tuple[bool, str]:
        if words[0] in DRY_RUN and is_check(self.env, opts) and "--dry-run=client" not in words:
            words = [*words, "--dry-run=client"]
        argv = [find_tool("kubectl", "kubernetes"), *words, *_common(opts)]
        done = run_process(self.sandbox, argv, env=environment(), timeout=DEFAULT_TIMEOUT, stdin=stdin)
        if done.exit_code != 0:
            return False, (done.stderr.strip() or done.stdout.strip() or f"exit {done.exit_code}")[-4000:]
        return True, done.stdout

    def change(self, words: list[str], opts: dict[str, Any], stdin: str | None = None) -> tuple[bool, str]:
        return self.run(words, opts, stdin)

    def query(self, words: list[str], opts: dict[str, Any]) -> tuple[str | None, str | None]:
        ok, out = self.run(words, opts)
        return (out, None) if ok else (None, out)

    def apply(self, *args: Any) -> tuple[bool, str]:
        (manifest,), opts = _opts(args, 1)
        words = ["apply", *(["--dry-run=client"] if opts.get("dry_run") else [])]
        path = workdir_path(self.sandbox, manifest) if "\n" not in manifest else ""
        if path and os.path.exists(path):
            return self.change([*words, "-f", path], opts)
        return self.change([*words, "-f", "-"], opts, stdin=manifest)

    def get(self, *args: Any) -> tuple[str | None, str | None]:
        (kind,), opts = _opts(args, 1)
        words = ["get", kind, *([str(opts["name"])] if opts.get("name") else [])]
        words += ["-o", str(opts.get("output") or "json")]
        words += ["-l", str(opts["selector"])] if opts.get("selector") else []
        words += ["--all-namespaces"] if opts.get("all_namespaces") else []
        return self.query(words, opts)

    def listing(self, kind: str) -> Callable[..., Any]:
        def call(opts: Any = None) -> Any:
            options = opts if isinstance(opts, dict) else {}
            return self.get(kind, {"output": "json", **options})

        return call

    def port_forward(self, *args: Any) -> tuple[bool, str]:
        (kind, name, ports), opts = _opts(args, 3)
        argv = [find_tool("kubectl", "kubernetes"), "port-forward", f"{kind}/{name}", ports, *_common(opts)]
        proc = start(argv, stdout=DEVNULL, stderr=DEVNULL)
        with self.sandbox.scope.lock:  # killed with the task's other processes
            self.sandbox.scope.processes.add(proc)
        return True, f"Port forwarding started for {kind}/{name} on {ports}"


def _functions(k: Kubectl) -> dict[str, Callable[..., Any]]:
    def positional(count: int, build: Callable[..., list[str]], query: bool = False) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            values, opts = _opts(args, count)
            words = build(*values, opts)
            return k.query(words, opts) if query else k.change(words, opts)

        return call

    def extra(opts: dict[str, Any], key: str, flag: str) -> list[str]:
        return [flag, str(opts[key])] if opts.get(key) else []

    return {
        "apply": k.apply,
        "delete": positional(
            2,
            lambda t, n, o: [
                "delete",
                t,
                n,
                *(["--force"] if o.get("force") else []),
                *extra(o, "grace_period", "--grace-period"),
            ],
        ),
        "get": k.get,
        "describe": positional(2, lambda t, n, o: ["describe", t, n], query=True),
        "logs": positional(
            1,
            lambda p, o: [
                "logs",
                p,
                *extra(o, "container", "-c"),
                *extra(o, "tail", "--tail"),
                *extra(o, "since", "--since"),
            ],
            query=True,
        ),
        "exec": positional(
            2, lambda p, c, o: ["exec", p, *extra(o, "container", "-c"), "--", "sh", "-c", c], query=True
        ),
        "port_forward": k.port_forward,
        "scale": positional(3, lambda t, n, r, o: ["scale", t, n, f"--replicas={r}"]),
        "rollout": positional(
            3,
            lambda a, t, n, o: [
                "rollout",
                a,
                f"{t}/{n}",
                *(extra(o, "revision", "--to-revision") if a == "undo" else []),
            ],
            query=True,
        ),
        "patch": positional(
            3, lambda t, n, p, o: ["patch", t, n, "--type", str(o.get("type") or "merge"), "-p", p]
        ),
        "label": positional(
            3,
            lambda t, n, kv, o: [
                "label",
                t,
                n,
                *kv.split(),
                *(["--overwrite"] if o.get("overwrite") else []),
            ],
        ),
        "annotate": positional(
            3,
            lambda t, n, kv, o: [
                "annotate",
                t,
                n,
                *kv.split(),
                *(["--overwrite"] if o.get("overwrite") else []),
            ],
        ),
        "create_namespace": positional(1, lambda n, o: ["create", "namespace", n]),
        "delete_namespace": positional(1, lambda n, o: ["delete", "namespace", n]),
        "get_nodes": k.listing("nodes"),
        "get_pods": k.listing("pods"),
        "get_services": k.listing("services"),
        "get_deployments": k.listing("deployments"),
        "create_secret": positional(
            2,
            lambda kind, n, o: [
                "create",
                "secret",
                kind,
                n,
                *extra(o, "from_literal", "--from-literal"),
                *extra(o, "from_file", "--from-file"),
            ],
        ),
        "create_configmap": positional(
            1,
            lambda n, o: [
                "create",
                "configmap",
                n,
                *extra(o, "from_literal", "--from-literal"),
                *extra(o, "from_file", "--from-file"),
            ],
        ),
        "wait_for_ready": positional(
            2,
            lambda t, n, o: [
                "wait",
                "--for=condition=ready",
                f"{t}/{n}",
                f"--timeout={o.get('timeout') or '300s'}",
            ],
        ),
        "top": positional(1, lambda t, o: ["top", t], query=True),
        "events": lambda opts=None: k.query(
            [
                "get",
                "events",
                *extra(opts if isinstance(opts, dict) else {}, "field_selector", "--field-selector"),
            ],
            opts if isinstance(opts, dict) else {},
        ),
    }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    functions = _functions(Kubectl(sandbox, env))
    sandbox.set_module("kubernetes", functions, blocking=frozenset(functions))
