"""`stack validate`: the pre-flight checks of a stack, also run before a run (`validate_before`).

Checks: the workflow file loads, the stacks it depends on exist (and have no cycle), its lock
is free, the disk has room, and every declared resource can be read. A check ends `ok`, `warn`
(worth knowing, not blocking) or `fail`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal, NamedTuple

from sloth_engine.dsl import load_file
from sloth_engine.errors import SlothError
from sloth_engine.modules import ModuleEnv
from sloth_engine.stacks import Stacks
from sloth_engine.stacks.probes import read_all
from sloth_engine.store.stack_records import StackInfo, StackStatus

MIN_FREE_BYTES = 100 * 1024 * 1024
"""Free disk space a stack needs where its workflow runs (100 MiB)."""

CheckStatus = Literal["ok", "warn", "fail"]


class Check(NamedTuple):
    name: str
    status: CheckStatus
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


def validate(
    stacks: Stacks,
    name: str,
    workflow_file: str | None = None,
    holder: str | None = None,
    min_free: int = MIN_FREE_BYTES,
) -> list[Check]:
    """Every check of stack `name`; `workflow_file` overrides the one recorded."""
    info = stacks.catalog.require(name)
    path = workflow_file or info.workflow_file
    return [
        check_workflow(stacks, info, path),
        check_dependencies(stacks, name),
        check_lock(stacks, name, holder),
        check_disk(path, min_free),
        check_resources(stacks, info, path),
    ]


def failures(checks: list[Check]) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in checks if c.status == "fail"]


def check_workflow(stacks: Stacks, info: StackInfo, path: str) -> Check:
    if not path:
        return Check(
            "workflow", "warn", "no workflow file recorded (stack new --workflow FILE, or run the stack)"
        )
    env = ModuleEnv(store=stacks.store, namespace=info.name, stack=info.name)
    try:
        loaded = load_file(path, env=env)
    except SlothError as exc:
        return Check("workflow", "fail", str(exc))
    names = [w.name for w in loaded.spec.workflows]
    if info.workflow and info.workflow not in names:
        return Check("workflow", "fail", f"{path} no longer defines workflow '{info.workflow}'")
    return Check("workflow", "ok", f"{path} loads: {', '.join(names)}")


def check_dependencies(stacks: Stacks, name: str) -> Check:
    cycle = stacks.deps.cycle(name)
    if cycle:
        return Check("dependencies", "fail", "dependency cycle: " + " -> ".join(cycle))
    deps = stacks.deps.describe(name)
    if deps["missing"]:
        return Check("dependencies", "fail", "missing stacks: " + ", ".join(deps["missing"]))
    names = deps["depends_on"] + [d["stack"] for d in deps["indirect"]]
    if not names:
        return Check("dependencies", "ok", "none")
    notes = []
    for dep in names:
        info = stacks.catalog.get(dep)
        if info is not None and info.execution_count == 0:
            notes.append(f"{dep} has never run")
        elif info is not None and info.status in (StackStatus.FAILED, StackStatus.ROLLED_BACK):
            notes.append(f"{dep}'s last run {info.status.replace('_', ' ')}")
    if notes:
        return Check("dependencies", "warn", "; ".join(notes))
    return Check("dependencies", "ok", ", ".join(names))


def check_lock(stacks: Stacks, name: str, holder: str | None) -> Check:
    info = stacks.locks.status(name)
    if info is None or info.holder == holder:
        return Check("lock", "ok", "free" if info is None else f"held by {holder} (this run)")
    reason = f": {info.reason}" if info.reason else ""
    return Check("lock", "fail", f"locked by {info.holder}{reason}")


def check_disk(path: str, min_free: int) -> Check:
    folder = Path(path).parent if path else Path.cwd()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return Check("disk space", "warn", f"cannot measure free space in {folder}: {exc.strerror}")
    text = f"{_size(free)} free in {folder}"
    if free < min_free:
        return Check("disk space", "fail", f"{text}, under the {_size(min_free)} needed")
    return Check("disk space", "ok", text)


def check_resources(stacks: Stacks, info: StackInfo, path: str) -> Check:
    records = stacks.resources.list(info.name)
    if not records:
        return Check("resources", "ok", "none declared yet")
    readings = read_all(records, stacks.store, path)
    broken = [f"{r.key}: {x.error}" for r, x in zip(records, readings, strict=True) if x.status == "error"]
    if broken:
        return Check("resources", "fail", "; ".join(broken[:5]) + (" ..." if len(broken) > 5 else ""))
    missing = sum(1 for x in readings if x.status == "missing")
    unchecked = sum(1 for x in readings if x.status == "unchecked")
    read = len(records) - unchecked
    text = f"{read} of {len(records)} readable"
    if missing:
        text += f" ({missing} missing: the next run creates them)"
    if unchecked:
        text += f", {unchecked} without a probe"
    return Check("resources", "ok", text)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"
