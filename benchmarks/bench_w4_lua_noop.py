"""W4: 1000 independent no-op Lua tasks; target at least 10,000 tasks/s inside the engine.

"Inside the engine" is WorkflowRun.execute(), from the executor's start to its end: the
file's first load (parsing and validating, done once by the CLI before the run) is left
out, but everything the run itself does is in, including the Lua worker threads loading
the file into their own runtimes. Measured without a store and with a SQLite store.

    .venv/bin/python benchmarks/bench_w4_lua_noop.py [--runs 5] [--tasks 1000]
"""

from __future__ import annotations

import argparse
import time

from harness import fmt, median, run_in_process, scratch, verdict

TARGET = 10_000


def lua_workflow(count: int) -> str:
    lines = ["local T = {}", "local function noop() end"]
    lines += [f'T[#T + 1] = task("t{i:04d}"):command(noop)' for i in range(1, count + 1)]
    lines.append('workflow.define("w4"):tasks(T)')
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    from sloth_engine.dsl import load_file

    print(f"W4: {args.tasks} independent no-op Lua tasks (default parallelism)")
    with scratch("w4") as folder:
        path = folder / "w4.sloth"
        path.write_text(lua_workflow(args.tasks))
        run_in_process(path, with_store=False)  # warm-up: imports, first runtime
        started = time.perf_counter()
        load_file(path)
        one_load = time.perf_counter() - started
        for with_store in (False, True):
            runs = [run_in_process(path, with_store=with_store) for _ in range(args.runs)]
            execute = [r.execute_s for r in runs]
            loop = [r.engine_s for r in runs]
            rate = args.tasks / median(execute)
            label = "with store (SQLite)" if with_store else "without store"
            print(f"  {label}:")
            print(f"    execute()      {fmt(execute)}  -> {rate:,.0f} tasks/s")
            print(f"    DAG loop only  {fmt(loop)}  -> {args.tasks / median(loop):,.0f} tasks/s")
            print(f"    target >= {TARGET:,} tasks/s: {verdict(rate >= TARGET)}")
        print(
            f"  for reference, one load_file of this file: {one_load * 1000:.1f} ms "
            "(each Lua worker thread of a run loads the file once)"
        )


if __name__ == "__main__":
    main()
