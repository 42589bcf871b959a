"""P1: loading and validating a 50-task workflow file; target at least 500 files/s.

The file mixes what real files hold: Lua and shell commands, dependencies, timeouts,
retries, params, conditions and hooks. Each load is `sloth_engine.dsl.load_file` with a
fresh sandbox, exactly what `workflow validate` and `run` do before anything runs.

    .venv/bin/python benchmarks/bench_p1_load.py [--runs 5] [--loads 200]
"""

from __future__ import annotations

import argparse
import time

from harness import median, scratch, verdict

TARGET = 500
TASKS = 50


def workflow_text(count: int) -> str:
    out = ["-- generated for benchmarks/bench_p1_load.py", "local T = {}"]
    for i in range(1, count + 1):
        name = f"step_{i:02d}"
        deps = f':depends_on({{ "step_{i - 1:02d}" }})' if i > 1 and i % 5 else ""
        if i % 3 == 0:
            body = ':command("echo ' + name + '")'
        else:
            body = (
                ":command(function(this, params, input)\n"
                f'      local n = tonumber(params.n or "1") + {i}\n'
                f'      return true, "{name} ok", {{ value = n }}\n'
                "  end)"
            )
        extra = ':timeout("30s"):retries(2, "exponential")' if i % 4 == 0 else ""
        cond = ':run_if(function(this, params) return params.skip ~= "yes" end)' if i % 7 == 0 else ""
        hook = ":on_failure(function(this, params, err) log.warn(err.error) end)" if i % 6 == 0 else ""
        out.append(
            f'T[#T + 1] = task("{name}"):description("step {i}"){body}{deps}'
            f'{extra}{cond}{hook}:params({{ n = "{i}" }})'
        )
    out.append('workflow.define("p1"):description("50 tasks"):tasks(T):config({ max_parallel_tasks = 4 })')
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--loads", type=int, default=200, help="loads per run")
    args = parser.parse_args()
    from sloth_engine.dsl import load_file

    with scratch("p1") as folder:
        path = folder / "p1.sloth"
        path.write_text(workflow_text(TASKS))
        loaded = load_file(path)
        assert len(loaded.spec.workflows[0].tasks) == TASKS
        rates = []
        for _ in range(args.runs):
            started = time.perf_counter()
            for _ in range(args.loads):
                load_file(path)
            rates.append(args.loads / (time.perf_counter() - started))
    rate = median(rates)
    print(f"P1: load + validate a {TASKS}-task workflow file ({args.loads} loads per run)")
    print(
        f"  median {rate:,.0f} files/s = {1000 / rate:.2f} ms per file "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}, n={len(rates)})"
    )
    print(f"  target >= {TARGET} files/s: {verdict(rate >= TARGET)}")


if __name__ == "__main__":
    main()
