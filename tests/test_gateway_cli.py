"""Every command group through `--master` from a machine with no store (an empty SLOTH_HOME, no
--db), against a real master started with --auth: the same output and exit code as the same
command run on the master's store, a viewer refused on a mutating call, the audit trail."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from distributed_cluster import wait_for
from gateway_harness import PASSPHRASE, Both, GatewayCluster

pytestmark = pytest.mark.timeout(180)

HOOK = """
return {
  event_types = { "schedule.*" },
  execute = function(event)
    print("saw " .. event.type)
    return true
  end,
}
"""
FLOW = """
local hello = task("hello"):command("echo hello from the flow")
workflow.define("flow"):tasks({ hello })
"""
BROKEN = """
local bad = task("bad"):command("exit 3")
workflow.define("broken"):tasks({ bad })
"""


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    cluster = GatewayCluster(tmp_path_factory.mktemp("gateway"))
    try:
        yield Both(cluster)
    finally:
        cluster.close()


def test_global_flags_before_or_after_the_subcommand(both: Both) -> None:
    assert both.remote("state", "set", "flags", "1", role="operator").returncode == 0
    after = both.remote("state", "get", "flags", flag=False)
    env = dict(after.__dict__)
    assert after.returncode == 0 and after.stdout == "1\n", env
    token = both.token["viewer"]
    late = both._run(
        {"SLOTH_HOME": str(both.empty), "PATH": "/usr/bin:/bin"},
        ("state", "get", "flags", "--master", both.cluster.address, "--token", token, "--log-level", "info"),
        None,
    )
    assert late.returncode == 0 and late.stdout == "1\n", late
    both.no_store_written()


def test_state_and_locks(both: Both) -> None:
    assert both.remote("state", "set", "app", '{"v": 1}', "-n", "gw", role="operator").returncode == 0
    assert both.local("state", "get", "app", "-n", "gw").stdout == '{\n  "v": 1\n}\n'
    both.same("state", "get", "app", "-n", "gw")
    both.same("state", "get", "missing", "-n", "gw")  # exit 1, same message
    both.same("state", "list", "-n", "gw")
    both.same("state", "list", "-n", "gw", "--json")
    null = both.remote("state", "set", "x", "null", role="operator")
    assert null.returncode == 2 and null.stderr == both.local("state", "set", "x", "null").stderr
    both.refused("state", "set", "app", "2", "-n", "gw")
    both.refused("state", "delete", "app", "-n", "gw")
    locked = both.remote("state", "lock", "door", "--ttl", "60s", "--holder", "me", role="operator")
    assert locked.returncode == 0 and locked.stdout.strip().isdigit(), locked
    held_there = both.remote("state", "lock", "door", "--ttl", "5s", "--holder", "you", role="operator")
    held_here = both.local("state", "lock", "door", "--ttl", "5s", "--holder", "you")
    assert held_there.returncode == held_here.returncode == 1
    assert held_there.stderr == held_here.stderr and "held by me" in held_there.stderr
    both.same("state", "locks", "--json")
    both.same("state", "unlock", "door", "--holder", "you", role="operator")  # not the holder: 1
    both.refused("state", "unlock", "door", "--holder", "me")
    assert both.remote("state", "unlock", "door", "--holder", "me", role="operator").returncode == 0
    both.same("state", "locks")
    assert both.remote("state", "delete", "app", "-n", "gw", role="operator").returncode == 0
    both.same("state", "delete", "app", "-n", "gw", role="operator")  # gone: 1 both ways
    both.no_store_written()


def test_hooks(both: Both) -> None:
    path = both.write("watch.lua", HOOK)
    both.refused("hook", "add", "watcher", "--file", str(path))
    added = both.remote("hook", "add", "watcher", "--file", str(path), role="operator")
    assert added.returncode == 0 and "runs on schedule.*" in added.stderr, added
    both.same("hook", "list")
    both.same("hook", "list", "--json")
    both.same("hook", "show", "watcher")
    bad = both.write("bad.lua", "hook.on(")
    there = both.remote("hook", "add", "broken", "--file", str(bad), role="operator")
    here = both.local("hook", "add", "broken", "--file", str(bad))
    assert there.returncode == here.returncode == 2 and "bad.lua" in there.stderr, (here, there)
    tested = both.remote("hook", "test", "watcher", "--data", '{"k": 1}', role="operator")
    assert tested.returncode == 0 and tested.stdout == "saw custom\n" and "success" in tested.stderr
    both.same("hook", "logs", "watcher")
    both.same("hook", "logs", "--json")
    assert both.remote("hook", "disable", "watcher", role="operator").returncode == 0
    assert '"enabled": false' in both.local("hook", "list", "--json").stdout
    assert both.remote("hook", "enable", "watcher", role="operator").returncode == 0
    both.refused("hook", "delete", "watcher")
    both.same("hook", "show", "nope")  # unknown: 1 both ways
    assert both.remote("hook", "delete", "watcher", role="operator").returncode == 0
    assert both.local("hook", "list").stderr == "no hooks\n"
    both.no_store_written()


def test_schedules(both: Both) -> None:
    flow = both.write("flow.sloth", FLOW)
    both.refused("scheduler", "add", "nightly", "--cron", "0 3 * * *", "--file", str(flow))
    added = both.remote(
        "scheduler", "add", "nightly", "--cron", "0 3 * * *", "--file", str(flow), role="operator"
    )
    assert added.returncode == 0 and "next at" in added.stderr, added
    listed = json.loads(both.same("scheduler", "list", "--json").stdout)
    kept = listed[0]["file"]
    assert kept != str(flow) and kept.endswith("flow.sloth"), "the master fires its own copy"
    broken = both.write("broken.sloth", "workflow.define(")
    there = both.remote(
        "scheduler", "add", "b", "--cron", "* * * * *", "--file", str(broken), role="operator"
    )
    here = both.local("scheduler", "add", "b", "--cron", "* * * * *", "--file", str(broken))
    assert (there.returncode, there.stderr) == (here.returncode, here.stderr) and there.returncode == 2
    assert both.remote("scheduler", "disable", "nightly", role="operator").returncode == 0
    assert json.loads(both.local("scheduler", "list", "--json").stdout)[0]["enabled"] is False
    assert both.remote("scheduler", "enable", "nightly", role="operator").returncode == 0
    both.refused("scheduler", "run", "nightly")
    fired = both.remote("scheduler", "run", "nightly", role="operator")
    assert fired.returncode == 0, fired
    run_id = fired.stdout.split()[0]
    status = lambda: json.loads(both.local("runs", "show", run_id, "--json").stdout)["status"]  # noqa: E731
    wait_for(lambda: status() != "running", 60, "the fired run")
    assert status() == "success"
    both.same("scheduler", "delete", "nope", role="operator")  # unknown: 1 both ways
    assert both.remote("scheduler", "delete", "nightly", role="operator").returncode == 0
    assert both.local("scheduler", "list").stderr == "no schedules\n"
    both.no_store_written()


def test_secrets(both: Both) -> None:
    both.refused("secrets", "set", "db_password", stdin="hunter2\n")
    made = both.remote("secrets", "set", "db_password", role="operator", stdin="hunter2\n")
    assert made.returncode == 0 and "created" in made.stderr, made
    local_env = both.cluster.env()
    assert local_env["SLOTH_SECRETS_PASSPHRASE"] == PASSPHRASE
    assert both.local("secrets", "get", "db_password").stdout == "hunter2\n"
    both.same("secrets", "list")
    both.same("secrets", "list", "--json")
    denied = both.remote("secrets", "get", "db_password", role="operator")
    assert denied.returncode == 1 and "needs role admin" in denied.stderr and "hunter2" not in denied.stdout
    revealed = both.remote("secrets", "get", "db_password", role="admin")
    assert revealed.returncode == 0 and revealed.stdout == "hunter2\n"
    both.same("secrets", "get", "nope", role="admin")  # unknown: 1 both ways
    audit = both.local("events", "list", "--type", "audit.SetSecret", "--json").stdout
    assert "db_password" in audit and "hunter2" not in audit, "a secret's value is never audited"
    both.refused("secrets", "delete", "db_password")
    assert both.remote("secrets", "delete", "db_password", role="operator").returncode == 0
    assert "no secrets" in both.local("secrets", "list").stderr
    both.no_store_written()


def test_tokens(both: Both) -> None:
    both.refused("token", "list")
    both.refused("token", "create", "x", "--role", "viewer", role="operator")
    made = both.remote("token", "create", "ci", "--role", "viewer", "--expires", "1d")
    assert made.returncode == 0 and made.stdout.startswith("slt_"), made
    both.same("token", "list", role="admin")
    both.same("token", "list", "--json", role="admin")
    new = made.stdout.strip()
    env = {"SLOTH_HOME": str(both.empty), "SLOTH_MASTER": both.cluster.address, "SLOTH_TOKEN": new}
    works = both._run({**env, "PATH": "/usr/bin:/bin"}, ("runs", "list"), None)
    assert works.returncode == 0, works
    assert both.remote("token", "revoke", "ci").returncode == 0
    gone = both._run({**env, "PATH": "/usr/bin:/bin"}, ("runs", "list"), None)
    assert gone.returncode == 1 and "revoked" in gone.stderr
    both.refused("token", "delete", "ci", role="operator")
    assert both.remote("token", "delete", "ci").returncode == 0
    assert "ci" not in [t["name"] for t in json.loads(both.local("token", "list", "--json").stdout)]
    both.same("token", "delete", "ci", role="admin")  # gone: 1 both ways
    both.no_store_written()


def test_events(both: Both) -> None:
    assert both.remote("state", "set", "ev", "1", role="operator").returncode == 0
    both.same("events", "list", "--type", "audit.SetStateValue")
    both.same("events", "list", "--type", "audit.", "--json", "--limit", "5")
    first = json.loads(both.local("events", "list", "--type", "audit.", "--json", "--limit", "1").stdout)[0]
    both.same("events", "show", str(first["id"]))
    both.same("events", "show", "999999999")  # unknown: 1 both ways
    both.refused("events", "clear", "--older-than", "3650d")
    both.refused("events", "clear", "--older-than", "3650d", role="operator")
    cleared = both.remote("events", "clear", "--older-than", "3650d")
    assert cleared.returncode == 0 and "deleted 0 event(s)" in cleared.stderr
    both.no_store_written()


def test_run_and_runs(both: Both) -> None:
    flow, broken = both.write("flow.sloth", FLOW), both.write("broken.sloth", BROKEN)
    both.refused("run", str(flow))
    ok = both.remote("run", str(flow), role="operator")
    assert ok.returncode == 0, ok
    failed = both.remote("run", str(broken), role="operator")
    assert failed.returncode == both.local("run", str(broken)).returncode == 1, failed
    runs = json.loads(both.local("runs", "list", "--json", "--workflow", "flow", "--limit", "1").stdout)
    run_id = runs[0]["run_id"]
    both.same("runs", "list", "--workflow", "broken")
    both.same("runs", "show", run_id)
    both.same("runs", "logs", run_id)
    both.same("runs", "show", "no-such-run")
    both.refused("runs", "cancel", run_id)
    both.no_store_written()


def test_agents(both: Both) -> None:
    both.start_agent("gw-agent")
    listed = json.loads(both.remote("agent", "list", "--json", role="viewer").stdout)
    assert [a["name"] for a in listed] == ["gw-agent"]
    both.refused("agent", "stop", "gw-agent")
    both.refused("agent", "exec", "gw-agent", "--", "echo", "hi", role="operator")
    ran = both.remote("agent", "exec", "gw-agent", "--", "echo", "hi")
    assert ran.returncode == 0 and "hi" in ran.stdout, ran
    shown = both.remote("agent", "show", "gw-agent", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "connected", shown
    both.same("agent", "show", "nobody")  # unknown: 1 both ways
    here = both.local("agent", "stop", "gw-agent")
    assert here.returncode == 2 and "needs a master" in here.stderr, here
    assert both.remote("agent", "stop", "gw-agent").returncode == 0
    both.no_store_written()


def test_sysadmin(both: Both) -> None:
    health = both.remote("sysadmin", "health", "--json", "--min-free-mb", "1")
    checks = {c["check"]: c for c in json.loads(health.stdout)}
    assert health.returncode == 0, health
    assert checks["store"]["status"] == "ok" and both.cluster.db.split("///")[1] in checks["store"]["detail"]
    assert checks["store writable"]["status"] == "ok" and checks["master"]["status"] == "ok"
    assert str(both.cluster.home) in checks["disk (SLOTH_HOME)"]["detail"], "the master's disk, not ours"
    both.same("sysadmin", "logs", "-n", "20", "--only", "events")
    both.same("sysadmin", "logs", "-n", "20", "--json")
    both.no_store_written()


SITE = """
local write = task("write")
  :command(function(this, params)
      exec.run("printf hello > %(path)s")
      stack.register_resource({ type = "file", name = "motd", properties = { path = "%(path)s", content = "hello" } })
      stack.set_output("url", "https://site.example")
      return true, "written"
  end)
workflow.define("site"):tasks({ write }):config({ stack = "site" })
"""


def test_stacks(both: Both) -> None:
    site = both.write("site.sloth", SITE % {"path": both.work / "motd.txt"})
    ran = both.remote("run", str(site), role="operator")
    assert ran.returncode == 0, ran
    both.refused("stack", "new", "web")
    made = both.remote("stack", "new", "web", "--description", "the web tier", role="operator")
    assert made.returncode == 0 and made.stdout == "created stack 'web'\n", made
    for args in (
        ("stack", "list"),
        ("stack", "list", "--json"),
        ("stack", "show", "site"),
        ("stack", "show", "site", "--json"),
        ("stack", "output", "site"),
        ("stack", "output", "site", "url"),
        ("stack", "history", "site"),
        ("stack", "history", "site", "--events", "--json"),
        ("stack", "export", "site", "--format", "yaml"),
        ("stack", "show", "nope"),
    ):
        both.same(*args)
    # locks
    both.refused("stack", "lock", "acquire", "web", "--locked-by", "me")
    locked = both.remote(
        "stack", "lock", "acquire", "web", "--locked-by", "me", "--reason", "deploy", role="operator"
    )
    assert locked.returncode == 0 and "locked stack 'web' for me" in locked.stdout, locked
    both.same("stack", "lock", "status", "web")
    both.same("stack", "lock", "status", "web", "--json")
    there = both.remote("stack", "lock", "acquire", "web", "--locked-by", "you", role="operator")
    here = both.local("stack", "lock", "acquire", "web", "--locked-by", "you")
    assert (there.returncode, there.stderr) == (here.returncode, here.stderr) and there.returncode == 1
    both.same("stack", "lock", "release", "web", "--locked-by", "you", role="operator")  # not yours: 1
    assert (
        both.remote("stack", "lock", "release", "web", "--locked-by", "me", role="operator").returncode == 0
    )
    both.remote("stack", "lock", "acquire", "web", "--locked-by", "me", role="operator")
    forced = both.remote("stack", "lock", "force-release", "web", "--reason", "stuck", role="operator")
    assert forced.returncode == 0 and "force-released stack 'web'" in forced.stdout, forced
    # snapshots
    snap = both.remote(
        "stack", "snapshot", "create", "site", "-d", "before", "--creator", "ci", role="operator"
    )
    assert snap.returncode == 0 and "created snapshot v1 of stack 'site' (1 resources)" in snap.stdout, snap
    both.same("stack", "snapshot", "list", "site")
    both.same("stack", "snapshot", "show", "site", "v1")
    both.same("stack", "snapshot", "compare", "site", "v1", "current")
    both.same("stack", "snapshot", "show", "site", "v9")  # unknown: 1 both ways
    both.refused("stack", "snapshot", "restore", "site", "v1", "--yes")
    restored = both.remote("stack", "snapshot", "restore", "site", "v1", "--yes", role="operator")
    assert restored.returncode == 0 and "restored stack 'site' to v1" in restored.stdout, restored
    # drift, deps, validation
    detected = both.remote("stack", "drift", "detect", "site", "--exit-code", role="operator")
    assert detected.returncode == 0 and "0 drifted, 0 unreadable, 1 checked" in detected.stdout, detected
    both.refused("stack", "drift", "detect", "site")
    both.same("stack", "drift", "show", "site")
    both.same("stack", "drift", "show", "site", "--json")
    fix = both.remote("stack", "drift", "fix", "site", "--yes", role="operator")  # nothing drifted
    assert fix.returncode == 0 and "stack 'site': no drift to fix" in fix.stdout, fix
    (both.work / "motd.txt").write_text("tampered")
    both.refused("stack", "drift", "fix", "site", "--yes")
    fix = both.remote("stack", "drift", "fix", "site", "--yes", role="operator")  # the master runs the fix
    assert fix.returncode == 0 and "run write of workflow 'site'" in fix.stdout and "fixed: " in fix.stdout, (
        fix
    )
    assert (both.work / "motd.txt").read_text() == "hello"
    both.refused("stack", "deps", "add", "web", "site")
    added = both.remote("stack", "deps", "add", "web", "site", role="operator")
    assert added.returncode == 0 and "stack 'web' depends on site" in added.stdout, added
    for args in (
        ("stack", "deps", "show", "web"),
        ("stack", "deps", "graph", "web", "--format", "mermaid"),
        ("stack", "deps", "check", "web"),
        ("stack", "deps", "order", "web", "site"),
    ):
        both.same(*args)
    free_space = r"[0-9.]+ ?[KMGT]?i?B free"  # other processes write to the disk between the two calls
    both.same("stack", "validate", "site", mask=free_space)
    both.same("stack", "validate", "site", "--json", mask=free_space)
    every = both.remote("stack", "validate", "all")  # the master checks its own disk and files
    assert every.returncode == 0 and "2 of 2 stacks passed" in every.stdout, every
    assert both.remote("stack", "deps", "remove", "web", "site", role="operator").returncode == 0
    both.same("stack", "deps", "remove", "web", "site", role="operator")  # not a dependency: 1
    assert both.remote("stack", "snapshot", "delete", "site", "v1", role="operator").returncode == 0
    both.refused("stack", "delete", "web")
    assert both.remote("stack", "delete", "web", role="operator").returncode == 0
    both.same("stack", "delete", "web", role="operator")  # gone: 1 both ways
    both.no_store_written()
