"""E1: a 5-task workflow run as a whole `sloth-daemon run` process; target under 0.3 s wall.

The workflow: `fetch` (Lua) -> `build` (shell `true`), `lint` (Lua) -> `test` (Lua) ->
`report` (Lua), so it starts the Lua workers, one subprocess and the store. For context
the script also times the floor under it: the interpreter alone, importing the CLI, and
`sloth-daemon --version`.

    .venv/bin/python benchmarks/bench_e1_process.py [--runs 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from harness import SLOTH_DAEMON, child_env, fmt, median, run_cli, scratch, timed, verdict

TARGET = 0.3
WORKFLOW = """
local fetch = task("fetch"):command(function() return true, "fetched", { rev = "abc" } end)
local build = task("build"):depends_on({ fetch }):command("true")
local lint = task("lint"):depends_on({ fetch }):command(function(this, params, input)
  return true, "lint ok", { rev = input.fetch.rev }
end)
local test = task("test"):depends_on({ build, lint }):command(function() return true, "tests ok" end)
local report = task("report"):depends_on({ test }):command(function() return true, "done" end)
workflow.define("e1"):tasks({ fetch, build, lint, test, report })
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with scratch("e1") as folder:
        path = folder / "e1.sloth"
        path.write_text(WORKFLOW)
        run_cli(path)  # warm-up: creates the store, writes bytecode caches, fills the page cache
        walls = [run_cli(path) for _ in range(args.runs)]
        python = timed(lambda: _run([sys.executable, "-c", "pass"]), args.runs)
        imports = timed(lambda: _run([sys.executable, "-c", "import sloth_daemon.cli.main"]), args.runs)
        version = timed(lambda: _run([SLOTH_DAEMON, "--version"]), args.runs)
        validate = timed(lambda: _run([SLOTH_DAEMON, "workflow", "validate", str(path)]), args.runs)
        plan = timed(lambda: _run([SLOTH_DAEMON, "run", str(path), "--plan"]), args.runs)
    print("E1: a 5-task workflow (4 Lua, 1 shell) as one `sloth-daemon run` process")
    print(f"  sloth-daemon run FILE          {fmt(walls)}")
    print("  for context:")
    print(f"    python -c pass               {fmt(python)}")
    print(f"    import sloth_daemon.cli.main {fmt(imports)}")
    print(f"    sloth-daemon --version       {fmt(version)}")
    print(f"    workflow validate FILE       {fmt(validate)}")
    print(f"    run FILE --plan              {fmt(plan)}")
    print(f"  target < {TARGET} s: {verdict(median(walls) < TARGET)}")


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=60, env=child_env())


if __name__ == "__main__":
    main()
