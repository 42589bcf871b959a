"""Load a workflow file: run it in a sandbox and turn what it defined into WorkflowSpecs.

The Lua side (lua/dsl.lua) records definitions; this module reads that registry, checks
every value, and reports the first problem as a DslError naming the file and the line.
"""

from __future__ import annotations

import logging
import posixpath
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sloth_engine.dsl_fields import task_spec, workflow_spec
from sloth_engine.errors import DslError, LuaRuntimeError
from sloth_engine.graph import check_graph
from sloth_engine.lua.sandbox import (
    LuaError,
    LuaMemoryError,
    ModuleError,
    Sandbox,
    iter_array,
    lua_type,
)
from sloth_engine.modules import ModuleEnv, install_all
from sloth_engine.spec import WorkflowFile, WorkflowSpec

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * 1024 * 1024
"""Largest workflow (or imported) file accepted."""
LOAD_TIMEOUT = 30.0
"""Seconds the top-level code of a workflow file may run while it is loaded."""


@dataclass
class LoadedFile:
    """A workflow file loaded in one runtime: the specs and the Lua functions behind them."""

    spec: WorkflowFile
    sandbox: Sandbox
    env: ModuleEnv = field(default_factory=ModuleEnv)
    """What the runtime's modules reach; a run may point `emit_event` at its own journal."""
    task_functions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    workflow_functions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def task_function(self, workflow: str, task: str, name: str) -> Any:
        return self.task_functions.get((workflow, task), {}).get(name)

    def workflow_function(self, workflow: str, name: str) -> Any:
        return self.workflow_functions.get(workflow, {}).get(name)


def read_source(path: Path) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DslError("file not found", str(path)) from None
    except OSError as exc:
        raise DslError(f"cannot read file: {exc.strerror}", str(path)) from None
    if path.is_dir():
        raise DslError("is a directory, not a workflow file", str(path))
    if size > MAX_FILE_BYTES:
        raise DslError(f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit", str(path))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DslError("file is not UTF-8 text", str(path)) from None


def load_file(
    path: str | Path,
    *,
    values: dict[str, Any] | None = None,
    env: ModuleEnv | None = None,
    sandbox: Sandbox | None = None,
    load_timeout: float = LOAD_TIMEOUT,
    source: str | None = None,
) -> LoadedFile:
    """Run a workflow file and return its definitions. Raises DslError on any problem.

    With `source`, that text is loaded under the name `path` (an agent loading what a master
    sent it) and the file itself is not read.
    """
    file_path = Path(path)
    display = str(path)
    if source is None:
        source = read_source(file_path)
    elif len(source.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise DslError(f"workflow source is over the {MAX_FILE_BYTES} byte limit", display)
    env = env or ModuleEnv()
    env.base_dir = file_path.resolve().parent
    if values is not None:
        env.values = values
    sandbox = sandbox or Sandbox()
    install_all(sandbox, env)
    dsl = _install_dsl(sandbox, env.base_dir, env.files)
    try:
        lua_values = sandbox.to_lua(env.values)
    except ModuleError as exc:
        raise DslError(f"values: {exc}", display) from None
    sandbox.globals()["values"] = lua_values
    sandbox.globals()["Values"] = lua_values
    sandbox.globals()["check_mode"] = env.check_mode  # a task can skip what only a real run makes true
    _run_chunk(sandbox, source, display, load_timeout)
    loaded = LoadedFile(WorkflowFile(display), sandbox, env)
    _collect(loaded, dsl["registry"], display)
    return loaded


def skip_shebang(source: str) -> str:
    """A first line starting with '#' emptied, as Lua's own file loader does (so an executable
    `#!/usr/bin/env sloth-runner` file loads); line numbers stay the same."""
    if not source.startswith("#"):
        return source
    end = source.find("\n")
    return "" if end < 0 else source[end:]


def _install_dsl(sandbox: Sandbox, base_dir: Path, files: dict[str, str] | None = None) -> Any:
    def import_file(rel: str) -> tuple[str, str]:
        if files is not None:  # a bundle sent by a master: its texts, never the disk
            text = files.get(posixpath.normpath(rel))
            if text is None:
                raise ModuleError(
                    f"import of '{rel}': not in the run's bundle (files named by a literal "
                    "import/require inside the workflow's folder travel with it)"
                )
            sandbox.chunk_names.add(rel)
            return skip_shebang(text), rel
        target = (base_dir / rel).resolve()
        if not target.is_relative_to(base_dir):
            raise ModuleError(f"import of '{rel}': only files inside the workflow's folder")
        if not target.is_file():
            raise ModuleError(f"import of '{rel}': no such file in {base_dir}")
        if target.stat().st_size > MAX_FILE_BYTES:
            raise ModuleError(f"import of '{rel}': file over {MAX_FILE_BYTES} bytes")
        sandbox.chunk_names.add(rel)
        return skip_shebang(target.read_text(encoding="utf-8")), rel

    dsl = sandbox.run_packaged("dsl.lua", sandbox.caller, sandbox.function(import_file))
    sandbox.context["is_task"] = dsl["is_task"]
    return dsl


def _run_chunk(sandbox: Sandbox, source: str, display: str, timeout: float) -> None:
    sandbox.chunk_names.add(display)
    try:
        chunk = sandbox.load(skip_shebang(source), "@" + display)
    except UnicodeDecodeError:  # the message quotes a piece of a broken character
        raise DslError("syntax error near text that is not valid UTF-8", display) from None
    if isinstance(chunk, tuple) or chunk is None:
        text = str(chunk[1] if isinstance(chunk, tuple) else chunk)
        err = sandbox.error(Exception(text))
        raise DslError(f"syntax error: {err.message}", err.path or display, err.line)
    try:
        sandbox.call(chunk, deadline=time.monotonic() + timeout)
    except LuaRuntimeError as exc:
        raise DslError(exc.message, exc.path or display, exc.line) from None
    except LuaMemoryError:
        raise DslError("memory limit exceeded while loading", display) from None
    except LuaError as exc:
        err = sandbox.error(exc)
        raise DslError(err.message, err.path or display, err.line) from None


def _collect(loaded: LoadedFile, registry: Any, display: str) -> None:
    sandbox = loaded.sandbox
    seen: set[str] = set()
    entries = list(iter_array(registry["workflows"]))
    for entry in entries:
        name = entry["_name"]
        definition = entry["_def"]
        line = entry["_line"]
        if name in seen:
            raise DslError(f"workflow '{name}' is defined twice", display, line)
        seen.add(name)
        wf, task_fns, wf_fns = workflow_spec(
            sandbox, name, definition, entry["_lines"], display, line, entry["_form"]
        )
        _add(loaded, wf, task_fns, wf_fns)
    legacy = sandbox.globals()["TaskDefinitions"]
    if lua_type(legacy) == "table":
        for group, definition in sorted(legacy.items(), key=lambda kv: str(kv[0])):
            if str(group) in seen:
                raise DslError(f"workflow '{group}' is defined twice", display)
            if lua_type(definition) != "table":
                raise DslError(f"TaskDefinitions.{group} must be a table", display)
            wf, task_fns, wf_fns = workflow_spec(
                sandbox, str(group), definition, None, display, None, "legacy"
            )
            _add(loaded, wf, task_fns, wf_fns)
    if not loaded.spec.workflows:
        _implicit_workflow(loaded, registry, display)


def _implicit_workflow(loaded: LoadedFile, registry: Any, display: str) -> None:
    """A file that only defines tasks runs them as one workflow named after the file."""
    tasks = list(iter_array(registry["tasks"]))
    if not tasks:
        raise DslError("defines no workflow (use workflow.define or task(...))", display)
    wf = WorkflowSpec(name=Path(display).stem, path=display, line=None)
    task_fns: dict[str, dict[str, Any]] = {}
    for builder in tasks:
        spec, fns = task_spec(loaded.sandbox, builder, None, wf)
        if spec.name in wf.tasks:
            raise DslError(f"task '{spec.name}' is defined twice", display, spec.line)
        wf.tasks[spec.name] = spec
        task_fns[spec.name] = fns
    check_graph(wf)
    _add(loaded, wf, task_fns, {})


def _add(
    loaded: LoadedFile,
    wf: Any,
    task_fns: dict[str, dict[str, Any]],
    wf_fns: dict[str, Any],
) -> None:
    loaded.spec.workflows.append(wf)
    for task_name, fns in task_fns.items():
        loaded.task_functions[(wf.name, task_name)] = fns
    loaded.workflow_functions[wf.name] = wf_fns
