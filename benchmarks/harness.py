"""What every benchmark script shares: a scratch folder, timing, the engine and make runners.

Each benchmark builds its input in a temporary folder that also serves as SLOTH_HOME, so
nothing lands in ~/.sloth, and removes it when done. Figures are medians of several runs;
shell workloads are compared with `make` doing the same work, measured in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SLOTH_DAEMON = str(BIN / "sloth-daemon")


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary folder, also SLOTH_HOME for this process and its children."""
    folder = Path(tempfile.mkdtemp(prefix=f"sloth-bench-{prefix}-"))
    saved = {k: os.environ.get(k) for k in ("SLOTH_HOME", "SLOTH_DB")}
    os.environ["SLOTH_HOME"] = str(folder / "home")
    os.environ.pop("SLOTH_DB", None)
    try:
        yield folder
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(folder, ignore_errors=True)


def child_env() -> dict[str, str]:
    """The environment for timed child processes: bytecode caching on, as for a user.

    With PYTHONDONTWRITEBYTECODE set (as in some CI shells) every process would compile
    the engine's modules again, which is not what a user's `sloth-daemon run` pays.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    """Wall seconds of `runs` calls of fn."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def fmt(samples: list[float]) -> str:
    return (
        f"median {median(samples):.3f}s  (min {min(samples):.3f}, max {max(samples):.3f}, n={len(samples)})"
    )


# ---- workflow files --------------------------------------------------------------------------


def shell_workflow(name: str, tasks: list[tuple[str, list[str]]], max_parallel: int | None) -> str:
    """A fluent workflow file whose tasks each run the shell command `true`."""
    lines = ["local T = {}"]
    for task, deps in tasks:
        dep = f":depends_on({{ {', '.join(repr_lua(d) for d in deps)} }})" if deps else ""
        lines.append(f'T[#T + 1] = task("{task}"):command("true"){dep}')
    config = f":config({{ max_parallel_tasks = {max_parallel} }})" if max_parallel else ""
    lines.append(f'workflow.define("{name}"):tasks(T){config}')
    return "\n".join(lines) + "\n"


def repr_lua(text: str) -> str:
    return '"' + text + '"'


def makefile(tasks: list[tuple[str, list[str]]]) -> str:
    """The same DAG for make: one phony target per task, each running `true`."""
    names = [t for t, _ in tasks]
    sinks = set(names) - {d for _, deps in tasks for d in deps}
    out = [".PHONY: all " + " ".join(names), "all: " + " ".join(n for n in names if n in sinks)]
    for task, deps in tasks:
        out.append(f"{task}: {' '.join(deps)}".rstrip())
        out.append("\t@true")
    return "\n".join(out) + "\n"


def dodo(tasks: list[tuple[str, list[str]]]) -> str:
    """The same DAG for doit (a local task runner that keeps no run history): one task each."""
    lines = ["def task_all():"]
    for name, deps in tasks:
        lines.append(
            f"    yield {{'name': {name!r}, 'actions': ['true'], 'task_dep': {[f'all:{d}' for d in deps]!r}}}"
        )
    return "\n".join(lines) + "\n"


DOIT = BIN / "doit"
"""doit, when installed (`pip install -e '.[bench]'`): timed beside make when present."""


def run_doit(folder: Path, jobs: int) -> float:
    """Wall time of a whole `doit run -n JOBS -P process` (the way it was compared in BENCHMARKS.md)."""
    (folder / ".doit.db").unlink(missing_ok=True)
    argv = [str(DOIT), "run", "-f", str(folder / "dodo.py"), "--db-file", str(folder / ".doit.db")]
    argv += ["-n", str(jobs), "-P", "process"] if jobs > 1 else []
    started = time.perf_counter()
    subprocess.run(argv, check=True, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run_make(folder: Path, jobs: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["make", "-s", f"-j{jobs}", "-f", str(folder / "Makefile")],
        cwd=folder,
        check=True,
        timeout=300,
    )
    return time.perf_counter() - started


# ---- the engine --------------------------------------------------------------------------------


@dataclass
class EngineRun:
    load_s: float
    """Loading and validating the file (RunRequest -> LoadedFile)."""
    execute_s: float
    """WorkflowRun.execute(): executor start to end, Lua workers included."""
    engine_s: float
    """The run's own duration_s (the DAG loop)."""
    status: str
    tasks: int


def run_in_process(path: Path, *, with_store: bool, max_parallel: int | None = None) -> EngineRun:
    """Load and run the file's first workflow in this process, as the CLI does."""
    from sloth_engine.run import RunRequest, WorkflowRun, load

    store = None
    if with_store:
        from sloth_engine.store import open_store

        home = Path(os.environ["SLOTH_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        store = open_store(f"sqlite:///{home / 'sloth.db'}")
    try:
        request = RunRequest(str(path), store=store, max_parallel=max_parallel, cwd=path.parent)
        started = time.perf_counter()
        loaded = load(request)
        loaded_at = time.perf_counter()
        workflow = loaded.spec.workflows[0]
        run = WorkflowRun(request, loaded, workflow)
        result, execute_s = asyncio.run(_timed_execute(run))
    finally:
        if store is not None:
            store.close()
    if result.status.value != "success":
        bad = [t for t in result.tasks if t.status.value != "success"][:3]
        raise RuntimeError(f"run of {path} ended {result.status.value}: {[t.to_dict() for t in bad]}")
    return EngineRun(
        loaded_at - started, execute_s, result.duration_s, result.status.value, len(result.tasks)
    )


async def _timed_execute(run: Any) -> tuple[Any, float]:
    """execute() timed inside the loop: asyncio.run's own setup and teardown left out."""
    started = time.perf_counter()
    result = await run.execute()
    return result, time.perf_counter() - started


def run_cli(path: Path, *args: str, timeout: float = 300) -> float:
    """Wall seconds of one whole `sloth-daemon run FILE` process (must succeed)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [SLOTH_DAEMON, "run", str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=path.parent,
        env=child_env(),
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"sloth-daemon run {path} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def shell_benchmark(
    workload: str,
    tasks: list[tuple[str, list[str]]],
    jobs: int,
    target_ratio: float,
    runs: int = 5,
    cli_runs: int = 3,
) -> dict[str, Any]:
    """Time make, the engine in-process (with its store) and the CLI on the same DAG."""
    with scratch(workload.lower()) as folder:
        path = folder / f"{workload.lower()}.sloth"
        path.write_text(shell_workflow(workload.lower(), tasks, jobs if jobs > 1 else None))
        (folder / "Makefile").write_text(makefile(tasks))
        (folder / "dodo.py").write_text(dodo(tasks))
        # Interleaved, so a noisy neighbour slows the baseline and the engine alike.
        make_s: list[float] = []
        engine: list[EngineRun] = []
        cli: list[float] = []
        doit_s: list[float] = []
        for index in range(runs):
            make_s.append(run_make(folder, jobs))
            engine.append(run_in_process(path, with_store=True))
            if index < cli_runs:
                cli.append(run_cli(path))
                if DOIT.exists():
                    doit_s.append(run_doit(folder, jobs))
    execute_s = [e.execute_s for e in engine]
    total_s = [e.load_s + e.execute_s for e in engine]
    base = median(make_s)
    figures = {
        "workload": workload,
        "tasks": len(tasks),
        "make_s": base,
        "execute_s": median(execute_s),
        "load_plus_execute_s": median(total_s),
        "cli_s": median(cli) if cli else None,
        "doit_s": median(doit_s) if doit_s else None,
    }
    make_cmd = f"make -j{jobs}" if jobs > 1 else "make"
    print(f"{workload}: {len(tasks)} tasks running `true`, {jobs} at a time; baseline `{make_cmd}`")
    print(f"  {make_cmd:<28} {fmt(make_s)}")
    print(f"  {'engine execute (store on)':<28} {fmt(execute_s)}  ratio {median(execute_s) / base:.2f}x")
    print(f"  {'engine load + execute':<28} {fmt(total_s)}  ratio {median(total_s) / base:.2f}x")
    if cli:
        print(f"  {'sloth-daemon run (process)':<28} {fmt(cli)}  ratio {median(cli) / base:.2f}x")
    if doit_s:
        versus = median(cli) / median(doit_s) if cli else float("nan")
        print(
            f"  {'doit run (process)':<28} {fmt(doit_s)}  ratio {median(doit_s) / base:.2f}x; ours / doit {versus:.2f}"
        )
    else:
        print("  doit not installed (pip install -e '.[bench]'): no side-by-side figure")
    ok = median(execute_s) / base <= target_ratio
    print(f"  target: within {target_ratio:g}x of {make_cmd} (engine execute): {verdict(ok)}")
    if cli:
        cli_ok = median(cli) / base <= target_ratio
        print(f"  target, whole CLI process: {verdict(cli_ok)}")
    return figures
