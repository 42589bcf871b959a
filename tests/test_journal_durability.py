"""What a run reports finished is in the store: SIGKILL right after the report loses nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from sloth_engine.store import open_store

TASKS = 400
KILL_AFTER = 25


def test_tasks_reported_finished_are_finished_in_the_store_after_a_sigkill(tmp_path: Path) -> None:
    flow = tmp_path / "many.sloth"
    lines = ["local T = {}"]
    lines += [f'T[#T + 1] = task("t{i:03d}"):command("true")' for i in range(TASKS)]
    lines.append('workflow.define("many"):tasks(T):config({ max_parallel_tasks = 1 })')
    flow.write_text("\n".join(lines) + "\n")
    db = tmp_path / "sloth.db"
    env = {**os.environ, "SLOTH_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloth_daemon.cli.main", "run", str(flow), "--db", f"sqlite:///{db}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    reported: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            found = re.match(r"\[many\] OK\s+(t\d{3})", line)
            if found:
                reported.append(found.group(1))
                if len(reported) == KILL_AFTER:
                    proc.send_signal(signal.SIGKILL)
                    break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert len(reported) == KILL_AFTER, "the run ended before it reported enough tasks"
    store = open_store(f"sqlite:///{db}")
    try:
        [run] = store.runs.list_runs()
        assert run["status"] == "running"  # killed: nobody recorded its end
        shown = store.runs.get_run(run["run_id"])
        assert shown is not None
        status = {t["task"]: t["status"] for t in shown["tasks"]}
        finished = {t["task"]: t for t in shown["tasks"] if t["finished_at"] is not None}
        events = [e.to_dict() for e in store.events.list(type_prefix="task.", limit=10 * TASKS)]
    finally:
        store.close()
    for name in reported:
        assert status[name] == "success", name
        assert finished[name]["duration_s"] is not None and finished[name]["outputs"]["exit_code"] == 0
    succeeded = {e["data"]["task"] for e in events if e["type"] == "task.completed"}
    started = {e["data"]["task"] for e in events if e["type"] == "task.started"}
    assert set(reported) <= succeeded and set(reported) <= started
    assert all(e["data"]["workflow"] == "many" and e["run_id"] == run["run_id"] for e in events)
