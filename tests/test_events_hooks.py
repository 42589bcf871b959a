"""Events and hooks through the CLI and real processes: hooks fire once per failure (locally and
on a master), a hanging hook is stopped by its timeout while the bus goes on, event.dispatch
reaches hooks from a local task and from an agent, the live event stream, and the bounded
queue recording what it could not deliver."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from distributed_cluster import Cluster, wait_for

FAILING = """
local bad = task("bad"):command(function() error("boom") end)
local flaky = task("flaky"):retries(1, "fixed"):command(function() return false, "nope" end)
local fine = task("fine"):command(function() event.dispatch("deploy.done", { version = "1.2" }) return true end)
workflow.define("failing"):tasks({ bad, flaky, fine }):config({ retry_delay = "10ms" })
"""

RECORD_HOOK = """
function on_event(event)
  fs.append("%s", event.type .. " " .. tostring(event.data.task) .. " " .. tostring(event.run_id) .. "\\n")
  print("recorded " .. event.type)
end
"""

TABLE_HOOK = """
return {
  event_types = { "deploy.done" },
  execute = function(event)
    fs.append("%s", "deployed " .. event.data.version .. "\\n")
    return true
  end,
}
"""


@pytest.fixture
def cluster(tmp_path: Path):
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def add_hook(c: Cluster, name: str, text: str, *args: str) -> None:
    hook = c.write(f"{name}.lua", text)
    done = c.cli("hook", "add", name, "--file", str(hook), *args)
    assert done.returncode == 0, done.stderr


def test_task_failed_hook_fires_once_per_failure_locally_and_on_a_master(cluster: Cluster) -> None:
    out = cluster.root / "failures.txt"
    add_hook(cluster, "on-failure", RECORD_HOOK % out, "--event", "task.failed")
    wf = cluster.write("failing.sloth", FAILING)
    first = cluster.cli("run", str(wf))
    assert first.returncode == 1, first.stderr
    got = lines(out)
    assert sorted(g.split()[1] for g in got) == ["bad", "flaky"]  # the retry is not a failure
    run_id = got[0].split()[2]
    assert all(g.split()[2] == run_id for g in got)

    cluster.start_master()
    second = cluster.cli("run", str(wf), "--master", cluster.address)
    assert second.returncode == 1, second.stderr + cluster.logs()
    wait_for(lambda: len(lines(out)) == 4, 10, "the master's hook runs")
    assert sorted(g.split()[1] for g in lines(out)[2:]) == ["bad", "flaky"]
    logs = cluster.cli("hook", "logs", "on-failure", "--json")
    runs = json.loads(logs.stdout)
    assert [r["outcome"] for r in runs] == ["success"] * 4
    assert all(r["output"].startswith("recorded task.failed") and r["duration_s"] >= 0 for r in runs)


def test_a_hanging_hook_is_stopped_by_its_timeout_and_the_bus_goes_on(cluster: Cluster) -> None:
    out = cluster.root / "after.txt"
    add_hook(
        cluster,
        "spin",
        "function on_event(e) while true do end end",
        "-e",
        "task.failed",
        "--timeout",
        "300ms",
    )
    add_hook(
        cluster,
        "sleepy",
        "function on_event(e) time.sleep(60) end",
        "-e",
        "task.failed",
        "--timeout",
        "300ms",
    )
    add_hook(cluster, "record", RECORD_HOOK % out, "-e", "task.*")
    wf = cluster.write("failing.sloth", FAILING)
    started = time.monotonic()
    done = cluster.cli("run", str(wf))
    assert done.returncode == 1
    assert time.monotonic() - started < 15
    assert sum(1 for line in lines(out) if line.startswith("task.failed")) == 2
    failed = json.loads(cluster.cli("hook", "logs", "--only-failed", "--json").stdout)
    assert (
        sorted((r["hook"], r["outcome"]) for r in failed)
        == [("sleepy", "timeout")] * 2 + [("spin", "timeout")] * 2
    )
    assert all(0.25 < r["duration_s"] < 5 and "timeout" in r["error"] for r in failed)
    # a stopped hook runs again next time, from a fresh runtime
    again = cluster.cli("hook", "test", "spin", "--type", "task.failed")
    assert again.returncode == 1 and "timeout" in again.stderr


def test_event_dispatch_reaches_hooks_from_a_task_and_from_an_agent(cluster: Cluster) -> None:
    out = cluster.root / "deploys.txt"
    add_hook(cluster, "deploys", TABLE_HOOK % out)  # the event types come from the file
    shown = json.loads(cluster.cli("hook", "show", "deploys", "--json").stdout)
    assert shown["event_types"] == ["deploy.done"] and "execute" in shown["source"]
    wf = cluster.write("failing.sloth", FAILING)
    cluster.cli("run", str(wf))
    assert lines(out) == ["deployed 1.2"]

    agents = cluster.root / "agents.txt"
    add_hook(cluster, "agents", RECORD_HOOK % agents, "-e", "agent.registered")
    cluster.start_master()
    cluster.start_agent("remote-1")
    wait_for(lambda: lines(agents) == ["agent.registered nil nil"], 10, "the agent's registration at a hook")
    remote = cluster.write(
        "remote.sloth",
        """
local t = task("t"):delegate_to("remote-1"):command(function()
  event.dispatch("deploy.done", { version = "2.0" })
  return true
end)
workflow.define("remote"):tasks({ t })
""",
    )
    done = cluster.cli("run", str(remote), "--master", cluster.address, "-o", "json")
    assert done.returncode == 0, done.stderr + cluster.logs()
    assert json.loads(done.stdout)["tasks"][0]["agent"] == "remote-1"
    wait_for(lambda: lines(out) == ["deployed 1.2", "deployed 2.0"], 10, "the agent's event at the hook")
    events = cluster.cli_json("events", "list", "--type", "deploy.", "--json")
    assert [e["data"]["version"] for e in events] == ["1.2", "2.0"]
    assert events[1]["data"]["task"] == "t"


def test_hook_commands(cluster: Cluster) -> None:
    out = cluster.root / "t.txt"
    add_hook(cluster, "h1", RECORD_HOOK % out, "-e", "task.failed", "--stack", "prod")
    again = cluster.cli("hook", "add", "h1", "--file", str(cluster.root / "h1.lua"), "-e", "x")
    assert again.returncode == 2 and "exists already" in again.stderr
    broken = cluster.write("broken.lua", "function on_event(e)\n  if then end\nend\n")
    bad = cluster.cli("hook", "add", "h2", "--file", str(broken), "-e", "x")
    assert bad.returncode != 0 and "broken.lua:2:" in bad.stderr
    nothing = cluster.write("nothing.lua", "local x = 1\n")
    assert "on_event" in cluster.cli("hook", "add", "h3", "--file", str(nothing), "-e", "x").stderr
    listed = cluster.cli_json("hook", "list", "--json")
    assert [(h["name"], h["stack"], h["enabled"]) for h in listed] == [("h1", "prod", True)]
    assert cluster.cli("hook", "disable", "h1").returncode == 0
    assert cluster.cli_json("hook", "list", "--json")[0]["enabled"] is False
    assert cluster.cli("hook", "enable", "h1").returncode == 0
    tested = cluster.cli("hook", "test", "h1", "--data", '{"task": "probe"}')
    assert tested.returncode == 0 and "recorded task.failed" in tested.stdout, tested.stderr
    assert lines(out) == ["task.failed probe nil"]
    assert "h1  task.failed  success" in cluster.cli("hook", "logs").stdout
    assert cluster.cli("hook", "delete", "h1").returncode == 0
    missing = cluster.cli("hook", "show", "h1")
    assert missing.returncode == 1 and "no hook named 'h1'" in missing.stderr


def test_events_list_show_clear_and_the_live_stream(cluster: Cluster) -> None:
    wf = cluster.write("failing.sloth", FAILING)
    cluster.cli("run", str(wf))
    failed = cluster.cli_json("events", "list", "--type", "task.failed", "--json")
    assert len(failed) == 2 and all(e["severity"] == "error" for e in failed)
    one = cluster.cli_json("events", "show", str(failed[0]["id"]))
    assert one["type"] == "task.failed" and one["run_id"] == failed[0]["run_id"]
    assert (
        cluster.cli_json("events", "list", "--since", "1h", "--limit", "3", "--json")[0]["type"]
        == "workflow.started"
    )
    assert cluster.cli_json("events", "list", "--stack", "nope", "--json") == []

    cluster.start_master()
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sloth_daemon.cli.main",
            "events",
            "watch",
            "--master",
            cluster.address,
            "--json",
            "--type",
            "task.",
        ],
        env=cluster.env(),
        cwd=cluster.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[dict] = []
    reader = threading.Thread(
        target=lambda: seen.extend(json.loads(line) for line in watcher.stdout), daemon=True
    )
    reader.start()
    try:

        def run_and_see() -> bool:
            cluster.cli("run", str(wf), "--master", cluster.address)
            return any(e["type"] == "task.failed" for e in seen)

        wait_for(run_and_see, 20, "task events on the live stream", every=0.2)
        assert all(e["type"].startswith("task.") for e in seen)
        over_master = cluster.cli_json(
            "events", "list", "--master", cluster.address, "--type", "workflow.", "--json"
        )
        assert {e["type"] for e in over_master} >= {"workflow.started", "workflow.failed"}
    finally:
        watcher.kill()
        watcher.wait(10)
    cleared = cluster.cli("events", "clear", "--older-than", "1h")
    assert cleared.returncode == 0 and "deleted 0 event(s)" in cleared.stderr
    assert cluster.cli("events", "clear").returncode == 0
    assert cluster.cli_json("events", "list", "--json") == []


def test_a_full_queue_records_what_it_could_not_deliver(tmp_path: Path) -> None:
    from sloth_engine.events import EventBus, HookStore
    from sloth_engine.store import open_store

    with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        HookStore(store).add("slow", "function on_event(e) time.sleep(0.2) end", ["custom"], timeout_s=5)
        bus = EventBus(store, workers=1, queue_size=1, put_timeout=0.01)
        for i in range(6):
            bus.publish("custom", {"i": i})
        assert bus.drain(10)
        bus.close()
        runs = HookStore(store).executions("slow")
        outcomes = [r["outcome"] for r in runs]
        assert len(runs) == 6 and outcomes.count("dropped") >= 3 and "success" in outcomes
        overflow = store.events.list("bus.overflow")
        assert len(overflow) == outcomes.count("dropped") and all(
            e.data["hooks"] == ["slow"] for e in overflow
        )
        # overflow events are not themselves delivered to hooks (no feedback loop)
        assert {r["event_type"] for r in runs} == {"custom"}


def test_event_patterns() -> None:
    from sloth_engine.events import matches

    assert matches(["task.failed"], "task.failed") and not matches(["task.failed"], "task.failed2")
    assert matches(["task.*"], "task.timeout") and not matches(["task.*"], "taskx.y")
    assert matches(["*"], "anything") and not matches([], "x")


def test_a_local_run_with_hooks_imports_no_grpc_crypto_cron_or_watcher(cluster: Cluster) -> None:
    out = cluster.root / "f.txt"
    add_hook(cluster, "on-failure", RECORD_HOOK % out, "--event", "task.failed")
    wf = cluster.write("failing.sloth", FAILING)
    probe = cluster.write(
        "probe.py",
        "import sys\nfrom sloth_daemon.cli.main import main\n"
        f"main(['run', {str(wf)!r}])\n"
        "print(sorted(m for m in ('grpc', 'cryptography', 'croniter', 'watchfiles') if m in sys.modules))\n",
    )
    done = subprocess.run(
        [sys.executable, str(probe)], env=cluster.env(), capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr
    assert len(lines(out)) == 2


def test_automation_tables_on_both_backends(store, monkeypatch: pytest.MonkeyPatch) -> None:
    from sloth_engine.errors import NotFound, SecretsError
    from sloth_engine.events import EventBus, HookStore
    from sloth_engine.secrets.keys import KeyMaterial
    from sloth_engine.secrets.vault import SecretVault
    from sloth_engine.store.schedules import ScheduleStore

    hooks = HookStore(store)
    hooks.add("h", "function on_event(e) print(e.data.n) end", ["custom.*"], stack="s")
    hooks.add("h", "function on_event(e) print(e.data.n * 2) end", ["custom.*"], replace=True)
    bus = EventBus(store, workers=2)
    first = bus.publish("custom.x", {"n": 21})
    assert bus.drain(10)
    bus.close()
    [run] = hooks.executions("h")
    assert (run["event_id"], run["outcome"], run["output"]) == (first, "success", "42")
    assert store.events.get(first).data == {"n": 21}
    assert [e.id for e in store.events.after(first - 1)] == [first]
    assert store.events.delete_before(None) == 1 and store.events.last_id() == 0
    hooks.set_enabled("h", False)
    assert not hooks.any_enabled() and hooks.generation()[0] == 0
    hooks.delete("h")
    with pytest.raises(NotFound):
        hooks.get("h")

    schedules = ScheduleStore(store)
    added = schedules.add("every", "*/2 * * * * *", "/x.sloth", tz="Europe/Paris", catch_up="once")
    schedules.set_next("every", 123.0)
    schedules.fired("every", 100.0, ["r1", "r2"])
    got = schedules.get("every")
    assert (got.next_fire_at, got.last_run_id, got.catch_up) == (123.0, "r1,r2", "once") and added.enabled
    schedules.set_enabled("every", False)
    assert schedules.list(enabled_only=True) == []

    vault = SecretVault(store, KeyMaterial("passphrase", b"pw"))
    assert vault.set("prod", "a", "value-1") is True and vault.set("prod", "a", "value-2") is False
    assert vault.get("prod", "a") == "value-2" and [s.name for s in vault.list("prod")] == ["a"]
    with pytest.raises(SecretsError, match="wrong passphrase"):
        SecretVault(store, KeyMaterial("passphrase", b"nope")).get("prod", "a")
    vault.delete("prod", "a")
    with pytest.raises(NotFound):
        vault.get("prod", "a")
