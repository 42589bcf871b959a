"""`stack list|show|new|delete|history|export|output`, `stack lock ...`, `stack deps ...` and
`stack validate` through the CLI's entry point, on SQLite and on PostgreSQL. Runs of workflows go
through real `python -m sloth_daemon.cli.main` processes; the many stack commands call the same
`main(argv)` in this process (a Python start per command would cost the suite most of its time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from stacks_cli import InProcessCli, Sloth, lua_string, write


@pytest.fixture
def procs(store_url: str, tmp_path: Path) -> Sloth:
    """Real CLI processes (workflow runs)."""
    return Sloth(store_url, tmp_path)


@pytest.fixture
def sloth(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InProcessCli:
    """The CLI's main(argv) in this process (stack commands)."""
    monkeypatch.setenv("SLOTH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SLOTH_MASTER", raising=False)
    return InProcessCli(store_url, tmp_path)


OUTPUTS_FLOW = """
workflow.define("deploy", {
  config = { stack = "web" },
  tasks = {
    { name = "publish", command = function(this, params)
        stack.set_output("url", "https://web.example")
        stack.set_output("replicas", 3)
        local status = stack.register_resource({ type = "service", name = "api", properties = { port = 8080 } })
        stack.update_resource("service", "api", { state = "applied", port = 8081 })
        local r = stack.get_resource("service", "api")
        assert(r.properties.port == 8081 and r.state == "applied", "update_resource")
        assert(stack.get_resource("api").name == "api", "get_resource by name")
        stack.register_resource({ type = "tmp", name = "scratch", properties = {} })
        assert(stack.delete_resource("tmp", "scratch") == true, "delete_resource")
        assert(not stack.resource_exists("tmp", "scratch"), "resource_exists")
        assert(stack.get_output("replicas") == 3, "get_output")
        return true, status .. " " .. stack.get_name()
      end },
  },
})
"""


def test_new_list_show_history_export_output_delete(
    sloth: InProcessCli, procs: Sloth, tmp_path: Path, store: Any
) -> None:
    flow = write(tmp_path / "deploy.sloth", OUTPUTS_FLOW)
    made = sloth.ok("stack", "new", "web", "--description", "the web tier", "--workflow", str(flow))
    assert made.out == "created stack 'web'\n"
    again, bad = sloth.batch(("stack", "new", "web"), ("stack", "new", "no spaces"))
    run = procs("run", str(flow), "--show-output")
    assert again.code == 1 and "stack 'web' exists already" in again.err
    assert bad.code == 2 and "invalid stack name" in bad.err
    assert run.code == 0 and "OK      publish: created web" in run.err, run

    listed, as_json, shown, detail, url, history, events, exported, as_yaml, refused = sloth.batch(
        ("stack", "list"),
        ("stack", "list", "--json"),
        ("stack", "show", "web"),
        ("stack", "show", "web", "--json"),
        ("stack", "output", "web", "url"),
        ("stack", "history", "web"),
        ("stack", "history", "web", "--events", "--json"),
        ("stack", "export", "web"),
        ("stack", "export", "web", "--format", "yaml"),
        ("stack", "delete", "web"),
    )
    lines = listed.out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "STATUS", "RESOURCES", "EXECUTIONS"]
    assert lines[1].split()[:4] == ["web", "success", "1", "1"]
    (doc,) = as_json.json()
    assert (doc["name"], doc["execution_count"], doc["resources"]) == ("web", 1, 1)
    assert "Status:       success" in shown.out and "Executions:   1" in shown.out
    assert "url = https://web.example" in shown.out and "service.api  [applied]  task publish" in shown.out
    detail_doc = detail.json()
    assert detail_doc["outputs"] == {"url": "https://web.example", "replicas": 3}
    assert detail_doc["workflow_file"] == str(flow.resolve()) and detail_doc["description"] == "the web tier"
    assert url.out == "https://web.example\n"
    rows = history.out.splitlines()
    assert rows[0].split()[:3] == ["RUN", "WORKFLOW", "STATUS"] and rows[1].split()[1:3] == [
        "deploy",
        "success",
    ]
    types = [e["type"] for e in events.json()]
    assert types[0] == "stack.created" and "stack.execution.started" in types
    assert "stack.execution.completed" in types
    exported_doc = exported.json()
    assert exported_doc["resources"][0]["properties"] == {"port": 8081} and len(exported_doc["runs"]) == 1
    assert yaml.safe_load(as_yaml.out)["outputs"]["url"] == "https://web.example"
    assert refused.code == 1 and "holds 1 resource" in refused.err and "--force" in refused.err

    assert sloth.ok("stack", "delete", "web", "--force").out == "deleted stack 'web'\n"
    gone = sloth("stack", "show", "web")
    assert gone.code == 1 and "no stack 'web'" in gone.err and "Traceback" not in gone.err
    types = [e.type for e in store.events.list(type_prefix="stack.", stack="web")]
    assert types[0] == "stack.created" and types[-1] == "stack.destroyed"


def test_a_run_without_a_stack_cannot_use_the_stack_module(procs: Sloth, tmp_path: Path) -> None:
    flow = write(tmp_path / "plain.sloth", 'task("t"):command(function() stack.set_output("k", 1) end)\n')
    result = procs("run", str(flow))
    assert result.code == 1 and "belongs to no stack" in result.err


def test_locks(sloth: InProcessCli) -> None:
    sloth.ok("stack", "new", "prod")
    missing = sloth("stack", "lock", "acquire", "nope")
    assert missing.code == 1 and "no stack 'nope'" in missing.err
    got = sloth.ok(
        "stack", "lock", "acquire", "prod", "--reason", "Deploying v2", "--locked-by", "deploy-bot"
    )
    assert "locked stack 'prod' for deploy-bot until released" in got.out

    held = sloth("stack", "lock", "acquire", "prod", "--locked-by", "alice", "--wait", "200ms")
    assert held.code == 1
    assert "stack 'prod' is locked by deploy-bot since " in held.err and "Deploying v2" in held.err

    status = sloth.ok("stack", "lock", "status", "prod", "--json").json()
    assert (
        status["locked"] and status["lock"]["holder"] == "deploy-bot" and status["lock"]["expires_at"] is None
    )
    assert "locked by deploy-bot since" in sloth.ok("stack", "lock", "status", "prod").out

    wrong = sloth("stack", "lock", "release", "prod", "--locked-by", "alice")
    assert wrong.code == 1 and "locked by deploy-bot, not alice" in wrong.err
    assert (
        sloth.ok("stack", "lock", "release", "prod", "--locked-by", "deploy-bot").out
        == "released stack 'prod'\n"
    )
    assert sloth.ok("stack", "lock", "status", "prod").out == "stack 'prod': unlocked\n"

    sloth.ok("stack", "lock", "acquire", "prod", "--locked-by", "ci", "--ttl", "1h", "--reason", "pipeline 7")
    forced = sloth.ok("stack", "lock", "force-release", "prod", "--reason", "stuck")
    assert "force-released stack 'prod' (was locked by ci" in forced.out
    events = [e["type"] for e in sloth.ok("stack", "history", "prod", "--events", "--json").json()]
    assert (
        events.count("lock.acquired") == 2 and "lock.released" in events and "lock.force_released" in events
    )


def test_dependencies(sloth: InProcessCli) -> None:
    sloth.batch(("stack", "new", "network"), ("stack", "new", "storage"))
    sloth.batch(
        ("stack", "new", "database", "--depends-on", "network", "--depends-on", "storage"),
        ("stack", "new", "cache", "--depends-on", "network"),
        ("stack", "new", "backend", "--depends-on", "database", "--depends-on", "cache"),
        ("stack", "new", "frontend", "--depends-on", "backend"),
    )
    shown, order, text, mermaid, dot, check = sloth.batch(
        ("stack", "deps", "show", "backend", "--json"),
        (
            "stack",
            "deps",
            "order",
            "frontend",
            "backend",
            "database",
            "cache",
            "network",
            "storage",
            "--json",
        ),
        ("stack", "deps", "order", "frontend", "network", "backend"),
        ("stack", "deps", "graph", "database", "--format", "mermaid"),
        ("stack", "deps", "graph", "database", "--format", "dot"),
        ("stack", "deps", "check", "frontend"),
    )
    doc = shown.json()
    assert doc["depends_on"] == ["cache", "database"] and doc["dependents"] == ["frontend"]
    assert doc["indirect"] == [{"stack": "network", "via": "cache"}, {"stack": "storage", "via": "database"}]
    assert order.json() == [["network", "storage"], ["cache", "database"], ["backend"], ["frontend"]]
    assert text.out.splitlines() == [
        "1. network",
        "2. backend (after cache, database)",
        "3. frontend (after backend)",
    ]
    assert mermaid.out.startswith("graph TD") and '["network"]' in mermaid.out and "-->" in mermaid.out
    assert '"network" -> "database";' in dot.out and '"database" -> "backend";' in dot.out
    assert check.code == 0 and "no dependency cycle" in check.out

    added = sloth.ok("stack", "deps", "add", "network", "frontend")
    assert "warning: dependency cycle" in added.err
    cycle, refused = sloth.batch(
        ("stack", "deps", "check", "backend"), ("stack", "deps", "order", "frontend", "network")
    )
    assert cycle.code == 1 and "dependency cycle: " in cycle.err
    named = cycle.err.split("dependency cycle: ")[1].strip().split(" -> ")
    assert (
        named[0] == named[-1]
        and set(named) == {"network", "frontend", "backend", "database"}
        or set(named) == {"network", "frontend", "backend", "cache"}
    )
    assert refused.code == 1 and "dependency cycle" in refused.err
    removed, ghost = sloth.batch(
        ("stack", "deps", "remove", "network", "frontend"), ("stack", "deps", "add", "cache", "ghost")
    )
    assert removed.out.startswith("stack 'network' no longer depends on frontend")
    assert ghost.code == 0 and "no stack ghost yet" in ghost.err
    missing = sloth("stack", "deps", "check", "cache")
    assert missing.code == 1 and "do not exist: ghost" in missing.err


def test_validate(sloth: InProcessCli, procs: Sloth, tmp_path: Path) -> None:
    good = write(tmp_path / "good.sloth", 'task("t"):command("true")\n')
    broken = write(tmp_path / "broken.sloth", "task('t'):command(\n")
    sloth.ok("stack", "new", "ok-stack", "--workflow", str(good))
    sloth.ok("stack", "new", "bad-stack", "--workflow", str(broken), "--depends-on", "ghost")
    passed = sloth.ok("stack", "validate", "ok-stack").out
    assert (
        "ok    workflow" in passed and "ok    lock          free" in passed and "validation passed" in passed
    )
    assert "disk space" in passed
    failed = sloth("stack", "validate", "bad-stack", "--json")
    assert failed.code == 1
    checks = {c["name"]: c for c in failed.json()["bad-stack"]}
    assert checks["workflow"]["status"] == "fail" and "syntax error" in checks["workflow"]["detail"]
    assert checks["dependencies"]["status"] == "fail" and "ghost" in checks["dependencies"]["detail"]
    sloth.ok("stack", "lock", "acquire", "ok-stack", "--locked-by", "bob", "--reason", "maintenance")
    everything = sloth("stack", "validate", "all")
    assert everything.code == 1 and "0 of 2 stacks passed" in everything.out
    assert "FAIL  lock          locked by bob: maintenance" in everything.out

    gated = write(
        tmp_path / "gated.sloth",
        f"""workflow.define("gated", {{ config = {{ stack = "bad-stack", validate_before = true }},
          tasks = {{ {{ name = "t", command = function() fs.write({lua_string(str(tmp_path / "ran"))}, "x") end }} }} }})
        """,
    )
    refused = procs("run", str(gated))
    assert (
        refused.code == 1 and "stack 'bad-stack' failed validation" in refused.err and "ghost" in refused.err
    )
    assert not (tmp_path / "ran").exists()
    assert json.loads(sloth.ok("stack", "show", "bad-stack", "--json").out)["execution_count"] == 0


ORPHAN_FLOW = """
workflow.define("svc", {
  config = { stack = "svc" },
  tasks = { { name = "declare", command = function()
    for _, name in ipairs(values.names) do
      stack.register_resource({ type = "svc", name = name, properties = { value = "up" }, read = "echo up" })
    end
  end } },
})
"""


def test_a_resource_no_longer_declared_is_extra_drift(
    sloth: InProcessCli, procs: Sloth, tmp_path: Path
) -> None:
    flow = write(tmp_path / "svc.sloth", ORPHAN_FLOW)
    both = write(tmp_path / "both.yaml", "names: [x, y]\n")
    one = write(tmp_path / "one.yaml", "names: [x]\n")
    assert procs("run", str(flow), "--values", str(both)).code == 0
    assert procs("run", str(flow), "--values", str(one)).code == 0
    report = sloth("stack", "drift", "detect", "svc", "--json", "--exit-code")
    assert report.code == 3
    (item,) = report.json()["findings"]
    assert (item["resource"], item["kind"]) == ("svc.y", "extra")
    shown = sloth.ok("stack", "drift", "show", "svc").out
    assert "Extra resources (no longer declared) (1):" in shown and "svc.y (task declare of svc)" in shown
    fix = sloth("stack", "drift", "fix", "svc", "--auto-approve")
    assert fix.code == 1 and "cannot fix svc.y: no longer declared by the workflow" in fix.err
