"""Runs of stacks through the real CLI, on SQLite and PostgreSQL: two concurrent runs of a
require_lock stack, drift found and fixed on real files, a rollback whose compensating
handlers undo real files in reverse order, and snapshots compared and restored."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from stacks_cli import Sloth, lua_string, write


@pytest.fixture
def sloth(store_url: str, tmp_path: Path) -> Sloth:
    return Sloth(store_url, tmp_path)


LOCKED_FLOW = """
workflow.define("deploy", {
  config = { stack = "prod", require_lock = true },
  tasks = {
    { name = "hold", command = function(this, params)
        fs.write(DIR .. "/started-" .. params.who, "x")
        local waited = 0
        while not fs.exists(DIR .. "/go") and waited < 20 do time.sleep(0.02); waited = waited + 0.02 end
        return true
      end },
  },
})
"""


def test_two_concurrent_runs_of_a_locked_stack(sloth: Sloth, tmp_path: Path) -> None:
    flow = write(tmp_path / "locked.sloth", f"DIR = {lua_string(str(tmp_path))}\n" + LOCKED_FLOW)
    first = sloth.popen("run", str(flow), "-p", "who=one")
    second = sloth.popen("run", str(flow), "-p", "who=two")
    procs = {"one": first, "two": second}
    try:
        deadline = time.monotonic() + 30
        # The loser fails at once; then the winner is let go.
        while all(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        (tmp_path / "go").write_text("go")
        outcomes = {who: (p.wait(timeout=30), p.communicate()[1]) for who, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    winners = [who for who, (code, _) in outcomes.items() if code == 0]
    losers = [who for who, (code, _) in outcomes.items() if code != 0]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    winner_err, loser_err = outcomes[winners[0]][1], outcomes[losers[0]][1]
    run_id = re.search(r"run (\S+): 1 tasks", winner_err).group(1)  # type: ignore[union-attr]
    assert f"stack 'prod' is locked by run:{run_id} since " in loser_err
    assert "workflow 'deploy' run by" in loser_err  # the reason
    assert (tmp_path / f"started-{winners[0]}").exists() and not (tmp_path / f"started-{losers[0]}").exists()
    doc = sloth.ok("stack", "show", "prod", "--json").json()
    assert doc["execution_count"] == 1 and doc["lock"] is None and doc["last_run_id"] == run_id


DRIFT_FLOW = """
function read_service(resource)
  return { port = tonumber(fs.read(DIR .. "/port")) }
end

workflow.define("site", {
  config = { stack = "site", detect_drift = true },
  tasks = {
    { name = "motd", command = function()
        fs.write(DIR .. "/motd", "welcome")
        stack.register_resource({ type = "file", name = "motd",
          properties = { path = DIR .. "/motd", content = "welcome" } })
      end },
    { name = "conf", depends_on = "motd", command = function(this, params, input)
        fs.write(DIR .. "/app.conf", "port=8080")
        exec.run("chmod 600 " .. DIR .. "/app.conf")
        stack.register_resource({ type = "file", name = "app.conf",
          properties = { path = DIR .. "/app.conf", mode = "0600",
                         checksum = "sha256:" .. crypto.sha256("port=8080") } })
        fs.write(DIR .. "/port", "8080")
        stack.register_resource({ type = "service", name = "api", properties = { port = 8080 },
          read = read_service })
        stack.register_resource({ type = "host", name = "name", properties = { value = "box" },
          read = "echo box" })
      end },
  },
})
"""


def test_drift_detect_show_fix(sloth: Sloth, tmp_path: Path) -> None:
    flow = write(tmp_path / "site.sloth", f"DIR = {lua_string(str(tmp_path))}\n" + DRIFT_FLOW)
    sloth.ok("run", str(flow))
    clean = sloth.ok("stack", "drift", "detect", "site", "--exit-code")
    assert "0 drifted, 0 unreadable, 4 checked" in clean.out

    (tmp_path / "motd").write_text("defaced")  # behind the stack's back
    found = sloth("stack", "drift", "detect", "site", "--exit-code")
    assert found.code == 3, found
    assert found.out.splitlines()[1:] == ["  ~ file.motd: content (expected welcome, actual defaced)"]
    report = sloth.ok("stack", "drift", "detect", "site", "--json").json()
    (item,) = report["findings"]
    assert (item["resource"], item["kind"], item["task"]) == ("file.motd", "configuration", "motd")
    assert item["fields"] == [{"field": "content", "expected": "welcome", "actual": "defaced"}]
    shown = sloth.ok("stack", "drift", "show", "site").out
    assert (
        "Configuration drift (1):" in shown and "expected: welcome" in shown and "actual:   defaced" in shown
    )

    (tmp_path / "port").write_text("9090")
    (tmp_path / "app.conf").unlink()
    both = sloth.ok("stack", "drift", "detect", "site", "--json").json()
    kinds = {f["resource"]: (f["kind"], [x["field"] for x in f["fields"]]) for f in both["findings"]}
    assert kinds == {
        "file.motd": ("configuration", ["content"]),
        "file.app.conf": ("missing", ["(resource)"]),
        "service.api": ("configuration", ["port"]),
    }

    refused = sloth("stack", "drift", "fix", "site")
    assert refused.code == 2 and "--auto-approve" in refused.err
    fixed = sloth.ok("stack", "drift", "fix", "site", "--auto-approve")
    assert "run conf, motd of workflow 'site'" in fixed.out
    assert "fixed: " in fixed.out and "still drifted" not in fixed.err
    assert (tmp_path / "motd").read_text() == "welcome" and (tmp_path / "app.conf").exists()
    after = sloth("stack", "drift", "detect", "site", "--exit-code")
    assert after.code == 0 and "0 drifted" in after.out


ROLLBACK_FLOW = """
local function mark(name) fs.append(DIR .. "/undo.log", name .. "\\n") end

local a = task("a")
  :command(function()
    fs.write(DIR .. "/a.txt", "a")
    stack.register_resource({ type = "file", name = "a", properties = { path = DIR .. "/a.txt", content = "a" } })
    stack.set_output("a", "made")
    return true, "a done", { file = DIR .. "/a.txt" }
  end)
  :on_rollback(function(this, params, outputs)
    fs.rm(outputs.file)
    mark("a")
  end)

workflow.define("release", {
  config = { stack = "shop", on_failure = "rollback" },
  tasks = {
    a,
    { name = "b", depends_on = "a", command = function()
        fs.write(DIR .. "/b.txt", "b")
        stack.register_resource({ type = "file", name = "b", properties = { path = DIR .. "/b.txt" } })
        stack.set_output("version", "2")
      end,
      rollback = function(this, params, outputs) fs.rm(DIR .. "/b.txt"); mark("b") end },
    { name = "c", depends_on = "b", command = function()
        if values.fail then error("boom") end
        stack.set_output("version", "1")
      end },
  },
})
"""


def test_rollback_undoes_completed_tasks_in_reverse_order(sloth: Sloth, tmp_path: Path, store: Any) -> None:
    flow = write(tmp_path / "release.sloth", f"DIR = {lua_string(str(tmp_path))}\n" + ROLLBACK_FLOW)
    ok_values = write(tmp_path / "ok.yaml", "fail: false\n")
    bad_values = write(tmp_path / "bad.yaml", "fail: true\n")
    sloth.ok("run", str(flow), "--values", str(ok_values))
    before = sloth.ok("stack", "show", "shop", "--json").json()
    assert before["outputs"] == {"a": "made", "version": "1"}
    (tmp_path / "a.txt").unlink()
    (tmp_path / "b.txt").unlink()

    failed = sloth("run", str(flow), "--values", str(bad_values))
    assert failed.code == 1
    assert "FAILED" in failed.err and "task c failed; rolled back to v2" in failed.err
    assert "(2 compensating handlers: b, a)" in failed.err
    assert (tmp_path / "undo.log").read_text() == "b\na\n"
    assert not (tmp_path / "a.txt").exists() and not (tmp_path / "b.txt").exists()

    after = sloth.ok("stack", "show", "shop", "--json").json()
    assert after["status"] == "rolled_back" and after["execution_count"] == 2
    assert after["outputs"] == before["outputs"]
    assert [r["resources"] for r in (before, after)] and _identity(after) == _identity(before)
    types = [e.type for e in store.events.list(stack="shop", limit=200)]
    assert "snapshot.restored" in types and types.count("task.rolled_back") == 2
    assert types[-1] == "stack.execution.failed"
    run = store.runs.get_run(after["last_run_id"], with_tasks=False)
    assert run["status"] == "failed" and "rolled back to v2" in run["error"]


def _identity(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["type"], r["name"], r["checksum"]) for r in doc["resources"]]


SNAPSHOT_FLOW = """
workflow.define("infra", {
  config = { stack = "infra" },
  tasks = { { name = "apply", command = function()
    for name, props in pairs(values.resources) do
      stack.register_resource({ type = "vm", name = name, properties = props })
    end
    for name, _ in pairs(values.gone or {}) do stack.delete_resource("vm", name) end
    stack.set_output("size", values.size)
  end } },
})
"""


def test_snapshots_create_list_show_compare_restore_delete(sloth: Sloth, tmp_path: Path) -> None:
    flow = write(tmp_path / "infra.sloth", SNAPSHOT_FLOW)
    one = write(
        tmp_path / "one.yaml", "size: small\nresources:\n  web: {cpu: 2}\n  db: {cpu: 4}\n  cache: {cpu: 1}\n"
    )
    two = write(
        tmp_path / "two.yaml",
        "size: large\nresources:\n  web: {cpu: 8, disk: 50}\n  db: {cpu: 4}\n  queue: {cpu: 1}\ngone:\n  cache: true\n",
    )
    sloth.ok("run", "infra", "-f", str(flow), "--values", str(one))
    made = sloth.ok("stack", "snapshot", "create", "infra", "--description", "first", "--creator", "alice")
    assert made.out == "created snapshot v1 of stack 'infra' (3 resources)\n"
    sloth.ok("run", "infra", "-f", str(flow), "--values", str(two))
    sloth.ok("stack", "snapshot", "create", "infra", "--description", "second")

    listed = sloth.ok("stack", "snapshot", "list", "infra").out.splitlines()
    assert [line.split()[0] for line in listed] == ["VERSION", "v1", "v2"] and "alice" in listed[1]
    shown = sloth.ok("stack", "snapshot", "show", "infra", "v1").out
    assert "Snapshot v1 of stack 'infra'" in shown and "vm.cache" in shown and "size = small" in shown

    diff = sloth.ok("stack", "snapshot", "compare", "infra", "v1", "v2").out
    assert "  + vm.queue  (added)" in diff and "  - vm.cache  (removed)" in diff and "  ~ vm.web" in diff
    assert "      properties.cpu: 2 -> 8" in diff and "      properties.disk: (none) -> 50" in diff
    assert '  ~ size: "small" -> "large"' in diff and "vm.db" not in diff
    assert "Summary: 1 added, 1 removed, 1 changed resources; 0 added, 0 removed, 1 changed outputs" in diff
    doc = sloth.ok("stack", "snapshot", "compare", "infra", "v1", "v2", "--format", "json").json()
    assert [r["resource"] for r in doc["resources"]["added"]] == ["vm.queue"]
    assert [r["resource"] for r in doc["resources"]["removed"]] == ["vm.cache"]
    (changed,) = doc["resources"]["changed"]
    assert changed == {
        "resource": "vm.web",
        "changes": [
            {"field": "properties.cpu", "from": 2, "to": 8},
            {"field": "properties.disk", "from": None, "to": 50},
        ],
    }
    assert doc["outputs"]["changed"] == [{"key": "size", "from": "small", "to": "large"}]

    assert sloth.ok("stack", "snapshot", "restore", "infra", "v1").out.startswith(
        "restored stack 'infra' to v1"
    )
    now = sloth.ok("stack", "snapshot", "compare", "infra", "v1", "current", "--json").json()
    assert not any(now["resources"].values()) and not any(now["outputs"].values())
    sloth.ok("stack", "snapshot", "delete", "infra", "v1")
    gone = sloth("stack", "snapshot", "show", "infra", "v1")
    assert gone.code == 1 and "has no snapshot v1" in gone.err
    assert sloth.ok("stack", "snapshot", "create", "infra").out.startswith("created snapshot v3")
