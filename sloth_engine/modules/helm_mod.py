"""`helm`: the helm CLI, with the original module's 24 functions and result shapes.

Positional arguments first, then an options table. Changing functions (install, upgrade,
uninstall, rollback, test, dependency, package, repo_add, repo_update, repo_remove, create,
plugin_install, plugin_uninstall) return `true, output` or `false, message`; queries (list,
status, get, history, lint, template, repo_list, search_repo, search_hub, plugin_list,
version) return `output, nil` or `nil, message`. Options map to helm's flags:

    install(release, chart, {namespace, create_namespace, version, values = "a=1,b=2",
            values_file, wait, timeout, dry_run, atomic})
    upgrade(release, chart, {... install = true (--install), reuse_values})
    uninstall(release, {keep_history, dry_run})
    list({all_namespaces, filter, output = "json"})
    status(release, {output})          get(what, release, {revision, output})
    rollback(release, revision, {wait, timeout})          history(release, {max, output})
    test(release, {timeout, logs})     lint(path, {strict, values, values_file})
    template(release, chart, {values, values_file})
    dependency(build|list|update, path, {skip_refresh})
    package(path, {destination, version, app_version})
    repo_add(name, url, {username, password, force_update})
    repo_update({repo})   repo_list({output})   repo_remove(name)
    search_repo(word, {version, max_results, output})   search_hub(word, {max_results, output})
    create(name, {starter})   plugin_install(path_or_url, {version})   plugin_list()
    plugin_uninstall(name)    version({short, template})

Every function takes `namespace` and `kube_context`. In check mode install/upgrade/uninstall
run with `--dry-run`. A registry password goes to helm on stdin, never on its command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.options import environment, is_check, workdir_path
from sloth_engine.modules.proc import find_tool, run_process

DEFAULT_TIMEOUT = 1800.0
DRY_RUN = frozenset({"install", "upgrade", "uninstall"})
# option name -> helm flag; True: a switch, False: a flag with the option's value
FLAGS: dict[str, tuple[str, bool]] = {
    "create_namespace": ("--create-namespace", True),
    "version": ("--version", False),
    "values": ("--set", False),
    "values_file": ("--values", False),
    "wait": ("--wait", True),
    "timeout": ("--timeout", False),
    "dry_run": ("--dry-run", True),
    "atomic": ("--atomic", True),
    "install": ("--install", True),
    "reuse_values": ("--reuse-values", True),
    "keep_history": ("--keep-history", True),
    "all_namespaces": ("--all-namespaces", True),
    "filter": ("--filter", False),
    "output": ("--output", False),
    "revision": ("--revision", False),
    "max": ("--max", False),
    "logs": ("--logs", True),
    "strict": ("--strict", True),
    "skip_refresh": ("--skip-refresh", True),
    "destination": ("--destination", False),
    "app_version": ("--app-version", False),
    "username": ("--username", False),
    "force_update": ("--force-update", True),
    "max_results": ("--max-col-width", False),
    "starter": ("--starter", False),
    "short": ("--short", True),
    "template": ("--template", False),
    "kube_context": ("--kube-context", False),
    "namespace": ("--namespace", False),
}
# name: (positional count, helm words before the positionals, query?, options it takes)
COMMANDS: dict[str, tuple[int, tuple[str, ...], bool, tuple[str, ...]]] = {
    "install": (
        2,
        ("install",),
        False,
        ("create_namespace", "version", "values", "values_file", "wait", "timeout", "dry_run", "atomic"),
    ),
    "upgrade": (
        2,
        ("upgrade",),
        False,
        (
            "install",
            "version",
            "values",
            "values_file",
            "wait",
            "timeout",
            "dry_run",
            "atomic",
            "reuse_values",
        ),
    ),
    "uninstall": (1, ("uninstall",), False, ("keep_history", "dry_run", "wait", "timeout")),
    "list": (0, ("list",), True, ("all_namespaces", "filter", "output")),
    "status": (1, ("status",), True, ("output", "revision")),
    "get": (2, ("get",), True, ("revision", "output")),
    "rollback": (2, ("rollback",), False, ("wait", "timeout")),
    "history": (1, ("history",), True, ("max", "output")),
    "test": (1, ("test",), False, ("timeout", "logs")),
    "lint": (1, ("lint",), True, ("strict", "values", "values_file")),
    "template": (2, ("template",), True, ("values", "values_file", "version")),
    "dependency": (2, ("dependency",), False, ("skip_refresh",)),
    "package": (1, ("package",), False, ("destination", "version", "app_version")),
    "repo_add": (2, ("repo", "add"), False, ("username", "force_update")),
    "repo_update": (0, ("repo", "update"), False, ()),
    "repo_list": (0, ("repo", "list"), True, ("output",)),
    "repo_remove": (1, ("repo", "remove"), False, ()),
    "search_repo": (1, ("search", "repo"), True, ("version", "output")),
    "search_hub": (1, ("search", "hub"), True, ("max_results", "output")),
    "create": (1, ("create",), False, ("starter",)),
    "plugin_install": (1, ("plugin", "install"), False, ("version",)),
    "plugin_list": (0, ("plugin", "list"), True, ()),
    "plugin_uninstall": (1, ("plugin", "uninstall"), False, ()),
    "version": (0, ("version",), True, ("short", "template")),
}
PATH_ARGUMENT = frozenset({"lint", "package", "create", "dependency"})


def argv_of(name: str, args: tuple[Any, ...], check: bool) -> tuple[list[str], str | None]:
    """helm's words for one call, and what to feed it on stdin."""
    count, words, _query, accepted = COMMANDS[name]
    values, opts = list(args[:count]), args[count] if len(args) > count else None
    if len(values) < count or any(v is None for v in values):
        raise ModuleError(f"helm.{name}: expected {count} arguments before the options")
    options = opts if isinstance(opts, dict) else {}
    out = [*words, *(str(v) for v in values)]
    if name == "repo_update" and options.get("repo"):
        out.append(str(options["repo"]))
    for key in (*accepted, "namespace", "kube_context"):
        value = options.get(key)
        if value is None or value is False or value == "":
            continue
        flag, switch = FLAGS[key]
        out += [flag] if switch else [flag, str(value)]
    if check and name in DRY_RUN and "--dry-run" not in out:
        out.append("--dry-run")
    stdin = None
    if name == "repo_add" and options.get("password"):
        out.append("--password-stdin")
        stdin = str(options["password"])
    return out, stdin


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def command(name: str) -> Callable[..., Any]:
        query = COMMANDS[name][2]

        def call(*args: Any) -> Any:
            if name in PATH_ARGUMENT and args:
                position = 1 if name == "dependency" else 0
                args = (*args[:position], workdir_path(sandbox, str(args[position])), *args[position + 1 :])
            options = args[-1] if args and isinstance(args[-1], dict) else {}
            words, stdin = argv_of(name, args, is_check(env, options))
            argv = [find_tool("helm", "helm"), *words]
            here = workdir_path(sandbox, ".")
            done = run_process(
                sandbox, argv, cwd=here, env=environment(), timeout=DEFAULT_TIMEOUT, stdin=stdin
            )
            if done.exit_code != 0:
                message = (done.stderr.strip() or done.stdout.strip() or f"exit {done.exit_code}")[-4000:]
                return (None, message) if query else (False, message)
            return (done.stdout, None) if query else (True, done.stdout)

        return call

    functions = {name: command(name) for name in COMMANDS}
    sandbox.set_module("helm", functions, blocking=frozenset(functions))
