"""Turn the raw fields of a task or workflow definition into checked specs.

Builder objects and task tables arrive here in one shape (a table of fields); every value is
checked and a bad one is a DslError naming the file, the line and the field.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, cast

from sloth_engine.durations import parse_duration
from sloth_engine.errors import DslError
from sloth_engine.graph import check_graph
from sloth_engine.lua.sandbox import ModuleError, Sandbox, lua_type
from sloth_engine.spec import LUA_FUNCTION, BackoffKind, Placement, RetryPolicy, TaskSpec, WorkflowSpec

log = logging.getLogger(__name__)

TASK_KEYS = {
    "name",
    "description",
    "command",
    "run",
    "timeout",
    "retries",
    "retry_strategy",
    "backoff",
    "depends_on",
    "delegate_to",
    "workdir",
    "user",
    "env",
    "params",
    "run_if",
    "abort_if",
    "pre_hook",
    "post_hook",
    "pre_exec",
    "post_exec",
    "on_success",
    "on_failure",
    "on_fail",
    "on_timeout",
    "on_rollback",
    "rollback",
    "artifacts",
    "consumes",
    "async",
    "uses",
}
ALIASES = {
    "run": "command",
    "pre_exec": "pre_hook",
    "post_exec": "post_hook",
    "on_fail": "on_failure",
    "rollback": "on_rollback",
    "backoff": "retry_strategy",
}
HOOK_FIELDS = (
    "command",
    "run_if",
    "abort_if",
    "pre_hook",
    "post_hook",
    "on_success",
    "on_failure",
    "on_timeout",
    "on_rollback",
)
WORKFLOW_KEYS = {
    "name",
    "description",
    "version",
    "tasks",
    "config",
    "workdir",
    "delegate_to",
    "timeout",
    "create_workdir_before_run",
    "clean_workdir_after_run",
    "on_start",
    "on_complete",
    "on_task_start",
    "on_task_complete",
    "on_failure",
    "max_parallel_tasks",
    "stack",
}
STRATEGIES = ("fixed", "linear", "exponential")


class _Fields:
    """Field access with the line each field was set on, for error messages."""

    def __init__(self, path: str, values: dict[str, Any], lines: dict[str, int], line: int | None):
        self.path = path
        self.values = values
        self.lines = lines
        self.line = line

    def error(self, key: str | None, message: str) -> DslError:
        line = self.lines.get(key, self.line) if key else self.line
        return DslError(message, self.path, line)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def _plain(sandbox: Sandbox, value: Any, fields: _Fields, key: str, what: str) -> Any:
    try:
        return sandbox.to_py(value, keep_functions=False)
    except ModuleError as exc:
        raise fields.error(key, f"{what}: {exc}") from None


def _raw_task_fields(
    sandbox: Sandbox, entry: Any, wf_line: int | None
) -> tuple[dict, dict, int | None, bool]:
    """(fields, lines, line, is_builder) for a task builder object or a task table."""
    if _is_task(sandbox, entry):
        fields = dict(entry["_fields"].items())
        lines = {str(k): v for k, v in entry["_lines"].items()}
        if "name" not in fields:
            fields["name"] = entry["_name"]
        return fields, lines, entry["_line"], True
    if lua_type(entry) != "table":
        raise ModuleError("a task must be a table or a task(...) object")
    fields = {str(k): v for k, v in entry.items()}
    base = fields.pop("uses", None)
    if base is not None:
        base_fields, _, _, _ = _raw_task_fields(sandbox, base, wf_line)
        base_fields.pop("name", None)
        fields = {**base_fields, **fields}
    return fields, {}, wf_line, False


def task_spec(
    sandbox: Sandbox, entry: Any, key_name: str | None, wf: WorkflowSpec, legacy: bool = False
) -> tuple[TaskSpec, dict[str, Any]]:
    """Check one task definition; return its spec and its Lua functions by field."""
    try:
        raw, lines, line, is_builder = _raw_task_fields(sandbox, entry, wf.line)
    except ModuleError as exc:
        raise DslError(f"workflow '{wf.name}': {exc}", wf.path, wf.line) from None
    f = _Fields(wf.path, raw, lines, line)
    if not is_builder:
        _check_keys(f, raw, TASK_KEYS, "task")
        for alias, target in ALIASES.items():
            if alias in raw and target not in raw:
                raw[target] = raw.pop(alias)
    name = raw.get("name") or key_name
    if not isinstance(name, str) or not name:
        raise f.error("name", f"a task in workflow '{wf.name}' has no name")
    if "\0" in name:
        shown = name.replace("\0", "\\0")
        raise f.error("name", f"task name '{shown}' in workflow '{wf.name}' contains a NUL byte")
    functions: dict[str, Any] = {}
    spec = TaskSpec(name=name, line=line, legacy_signature=legacy)
    for hook in HOOK_FIELDS:
        value = raw.get(hook)
        if value is None:
            continue
        if lua_type(value) == "function":
            functions[hook] = value
            setattr(spec, hook, LUA_FUNCTION)
        elif isinstance(value, str):
            setattr(spec, hook, value)
        else:
            raise f.error(hook, f"task '{name}': {hook} must be a function or a shell command string")
    present = raw.keys()
    spec.description = _string(f, "description", name)
    spec.timeout = _duration(f, "timeout", name)
    spec.retry = _retry(f, name)
    spec.depends_on = _depends(sandbox, f, name)
    spec.depends_line = lines.get("depends_on", line)
    spec.placement = _placement(sandbox, f, "delegate_to", name) or wf.placement
    if "workdir" in present:
        spec.workdir = _string(f, "workdir", name) or None
    if "user" in present:
        spec.user = _string(f, "user", name) or None
    if "env" in present:
        spec.env = {str(k): str(v) for k, v in _table(sandbox, f, "env", name).items()}
    if "params" in present:
        spec.params = _table(sandbox, f, "params", name)
    if "artifacts" in present:
        spec.artifacts = _string_list(sandbox, f, "artifacts", name)
    if "consumes" in present:
        spec.consumes = _string_list(sandbox, f, "consumes", name)
    return spec, functions


def _check_keys(f: _Fields, raw: dict[str, Any], known: set[str], what: str) -> None:
    for key in raw:
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if close:
            raise f.error(None, f"unknown {what} field '{key}' (did you mean '{close[0]}'?)")
        log.warning("%s: ignoring unknown %s field '%s'", f.path, what, key)


def _string(f: _Fields, key: str, owner: str) -> str:
    value = f.get(key)
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise f.error(key, f"'{owner}': {key} must be a string")


def _duration(f: _Fields, key: str, owner: str) -> float | None:
    value = f.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise f.error(key, f"'{owner}': bad {key}: {exc}") from None


def _retry(f: _Fields, owner: str) -> RetryPolicy:
    count = f.get("retries")
    strategy = f.get("retry_strategy") or "exponential"
    if count is None:
        return RetryPolicy()
    if isinstance(count, bool) or not isinstance(count, (int, float)) or count < 0 or count != int(count):
        raise f.error("retries", f"'{owner}': retries must be a whole number >= 0, got {count!r}")
    if strategy not in STRATEGIES:
        raise f.error(
            "retries",
            f"'{owner}': retry strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}",
        )
    return RetryPolicy(retries=int(count), strategy=cast(BackoffKind, strategy))


def _depends(sandbox: Sandbox, f: _Fields, owner: str) -> list[str]:
    value = f.get("depends_on")
    if value is None:
        return []
    items = [value] if isinstance(value, str) or _is_task(sandbox, value) else None
    if items is None:
        if lua_type(value) != "table":
            raise f.error("depends_on", f"'{owner}': depends_on must be a name, a task or a list")
        items = [v for _, v in sorted(value.items(), key=lambda kv: _order(kv[0]))]
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif _is_task(sandbox, item):
            names.append(item["_fields"]["name"] or item["_name"])
        elif lua_type(item) == "table" and isinstance(item["name"], str):
            names.append(item["name"])
        else:
            raise f.error("depends_on", f"'{owner}': depends_on entries must be task names or tasks")
    return list(dict.fromkeys(names))


def _order(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, (int, float)) else (1, str(key))


def _is_task(sandbox: Sandbox, value: Any) -> bool:
    return lua_type(value) == "table" and bool(sandbox.context["is_task"](value))


def _placement(sandbox: Sandbox, f: _Fields, key: str, owner: str) -> Placement | None:
    value = f.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value:
        return Placement(agent=value)
    if lua_type(value) == "table":
        data = _plain(sandbox, value, f, key, f"'{owner}': {key}")
        if isinstance(data, dict):
            if data.get("any"):
                return Placement(any_agent=True)
            tags = data.get("tags")
            if isinstance(tags, dict) and tags:
                return Placement(tags=tuple(sorted((str(k), str(v)) for k, v in tags.items())))
            agent = data.get("agent") or data.get("name") or data.get("host")
            if isinstance(agent, str) and agent:
                return Placement(agent=agent)
    raise f.error(key, f"'{owner}': {key} must be an agent name, {{ tags = {{...}} }} or {{ any = true }}")


def _table(sandbox: Sandbox, f: _Fields, key: str, owner: str) -> dict[str, Any]:
    value = f.get(key)
    if value is None:
        return {}
    data = _plain(sandbox, value, f, key, f"'{owner}': {key}")
    if data == [] or data == {}:
        return {}
    if not isinstance(data, dict):
        raise f.error(key, f"'{owner}': {key} must be a table of names to values")
    return {str(k): v for k, v in data.items()}


def _string_list(sandbox: Sandbox, f: _Fields, key: str, owner: str) -> list[str]:
    value = f.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    data = _plain(sandbox, value, f, key, f"'{owner}': {key}")
    if isinstance(data, list) and all(isinstance(v, str) for v in data):
        return data
    if data == {}:
        return []
    raise f.error(key, f"'{owner}': {key} must be a string or a list of strings")


def workflow_spec(
    sandbox: Sandbox,
    name: str,
    definition: Any,
    lines: Any,
    path: str,
    line: int | None,
    form: str,
) -> tuple[WorkflowSpec, dict[str, dict[str, Any]], dict[str, Any]]:
    """Check a workflow definition; return its spec, task functions and workflow hooks."""
    raw = {str(k): v for k, v in definition.items()}
    line_map = {str(k): v for k, v in lines.items()} if lines is not None else {}
    f = _Fields(path, raw, line_map, line)
    if form != "fluent":
        _check_keys(f, raw, WORKFLOW_KEYS, "workflow")
    wf = WorkflowSpec(name=name, path=path, line=line)
    wf.description = _string(f, "description", name)
    wf.version = _string(f, "version", name)
    config = _table(sandbox, f, "config", name)
    for key in ("stack", "max_parallel_tasks"):
        if raw.get(key) is not None and key not in config:
            config[key] = _plain(sandbox, raw[key], f, key, f"workflow '{name}': {key}")
    on_failure = raw.get("on_failure")
    if isinstance(on_failure, str):
        config.setdefault("on_failure", on_failure)
    wf.config = config
    wf.timeout = _duration(f, "timeout", name) or _config_duration(f, config, name, "timeout")
    wf.max_parallel = _max_parallel(f, config, name)
    wf.retry_delay = _config_duration(f, config, name, "retry_delay")
    wf.placement = _placement(sandbox, f, "delegate_to", name) or Placement()
    wf.workdir = _string(f, "workdir", name) or None
    wf.create_workdir = bool(raw.get("create_workdir_before_run"))
    workflow_fns: dict[str, Any] = {}
    clean = raw.get("clean_workdir_after_run")
    if lua_type(clean) == "function":
        workflow_fns["clean_workdir"] = clean
        wf.clean_workdir = LUA_FUNCTION
    else:
        wf.clean_workdir = bool(clean)
    for hook in ("on_start", "on_complete", "on_task_start", "on_task_complete"):
        value = raw.get(hook)
        if lua_type(value) == "function":
            workflow_fns[hook] = value
            setattr(wf, hook, LUA_FUNCTION)
        elif value is not None:
            raise f.error(hook, f"workflow '{name}': {hook} must be a function")
    if lua_type(on_failure) == "function":
        workflow_fns["on_failure"] = on_failure
    task_fns = _tasks(sandbox, f, wf, raw.get("tasks"), legacy=form == "legacy")
    check_graph(wf)
    return wf, task_fns, workflow_fns


def _config_duration(f: _Fields, config: dict[str, Any], name: str, key: str) -> float | None:
    if config.get(key) is None:
        return None
    try:
        return parse_duration(config[key])
    except ValueError as exc:
        raise f.error("config", f"workflow '{name}': bad config.{key}: {exc}") from None


def _max_parallel(f: _Fields, config: dict[str, Any], name: str) -> int | None:
    value = config.get("max_parallel_tasks")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        raise f.error("config", f"workflow '{name}': max_parallel_tasks must be a number >= 1")
    return int(value)


def _tasks(
    sandbox: Sandbox, f: _Fields, wf: WorkflowSpec, tasks: Any, legacy: bool
) -> dict[str, dict[str, Any]]:
    functions: dict[str, dict[str, Any]] = {}
    if tasks is None:
        return functions
    if lua_type(tasks) != "table":
        raise f.error("tasks", f"workflow '{wf.name}': tasks must be a list or a map of tasks")
    items = sorted(tasks.items(), key=lambda kv: _order(kv[0]))
    for key, entry in items:
        key_name = key if isinstance(key, str) else None
        spec, fns = task_spec(sandbox, entry, key_name, wf, legacy)
        if spec.name in wf.tasks:
            raise DslError(f"workflow '{wf.name}': task '{spec.name}' is defined twice", wf.path, spec.line)
        wf.tasks[spec.name] = spec
        functions[spec.name] = fns
    return functions
