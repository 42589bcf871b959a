"""The console against a real master and agent (processes on 127.0.0.1): run a workflow from
the dialog and watch its DAG finish, retry, cancel, release a lock, snapshot / drift / fix /
restore a stack, disable / enable / fire a schedule. Awaits workers and stream messages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed_cluster import Cluster, examples_cluster, wait_for
from tui_fake import settle, until

from sloth_tui.app import SlothApp
from sloth_tui.widgets.filter_table import FilterTable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SIZE = (120, 36)

SITE = """
local write = task("write")
  :command(function(this, params)
      exec.run("printf hello > %(path)s")
      stack.register_resource({ type = "file", name = "motd", properties = { path = "%(path)s", content = "hello" } })
      return true, "written"
  end)
workflow.define("site"):tasks({ write }):config({ stack = "site" })
"""

SLOW = """
local wait = task("wait"):command("sleep 30")
local after = task("after"):depends_on({ wait }):command("true")
workflow.define("slow"):tasks({ wait, after })
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with examples_cluster(tmp_path_factory.mktemp("tui")) as c:
        yield c


def app_on(cluster: Cluster) -> SlothApp:
    return SlothApp(cluster.client(), cluster.address)


async def started(pilot: Any) -> SlothApp:
    app = pilot.app
    await until(
        pilot, lambda: app.state.connected and app.state.workflows and "alpha" in app.state.agents, timeout=15
    )
    return app


async def finished(pilot: Any, timeout: float = 30) -> Any:
    app = pilot.app
    await until(
        pilot,
        lambda: getattr(getattr(app.screen, "run", None), "status", "running") != "running",
        "the run",
        timeout,
    )
    return app.screen.run


def submit(cluster: Cluster, name: str, text: str) -> str:
    path = cluster.write(name, text)
    with cluster.client() as client:
        return client.submit_run(str(path), path.read_text())[0].run_id


@pytest.mark.asyncio
async def test_run_from_the_dialog_then_retry(cluster: Cluster) -> None:
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        await pilot.press("colon", *"hello_world", "enter")
        await settle(pilot)
        await pilot.press("enter")  # picks the workflow: the dialog's values next
        await settle(pilot)
        assert app.screen.query_one("#values").has_focus
        await pilot.press("enter")  # runs it
        run = await finished(pilot)
        assert run.status == "success" and run.columns == [["greet"], ["wave"]]
        assert run.tasks["wave"].message == "waved back at world"
        first = run.run_id
        await pilot.press("t")  # every task succeeded: nothing to retry, nothing asked
        await settle(pilot)
        assert app.screen.run.run_id == first
        await pilot.press("T")  # run all again
        await settle(pilot)
        await pilot.press("y")
        await until(
            pilot, lambda: getattr(getattr(app.screen, "run", None), "run_id", first) != first, timeout=15
        )
        again = await finished(pilot)
        assert again.status == "success" and again.workflow == "hello_world"


FLAKY = """
local a = task("a"):command("echo a >> %(root)s/a.log; echo token-$(date +%%s%%N)")
local b = task("b"):depends_on({ a }):command(function(this, params, input)
    if not exec.run("test -f %(root)s/flag").success then return false, "no flag yet" end
    return true, "got " .. strings.trim_space(input.a.stdout)
end)
workflow.define("flaky"):tasks({ a, b })
"""


@pytest.mark.asyncio
async def test_retry_failed_only_from_a_run_reuses_what_succeeded(cluster: Cluster) -> None:
    root = cluster.root / "flaky"
    root.mkdir()
    run_id = submit(cluster, "flaky.sloth", FLAKY % {"root": root})
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        app.open_run(run_id)
        run = await finished(pilot)
        assert run.status == "failed" and run.tasks["b"].error == "no flag yet"
        token = run.tasks["a"].outputs["stdout"]
        (root / "flag").touch()
        await pilot.press("t")
        await settle(pilot)
        assert "only its failed and skipped tasks: b" in str(app.screen.query_one("#question").render())
        await pilot.press("y")
        await until(
            pilot, lambda: getattr(getattr(app.screen, "run", None), "run_id", run_id) != run_id, timeout=15
        )
        again = await finished(pilot)
        assert again.status == "success"
        assert again.tasks["a"].message == f"reused from run {run_id}"
        assert again.tasks["b"].message == f"got {token}"
        assert (root / "a.log").read_text().split() == ["a"]  # a did not run again


@pytest.mark.asyncio
async def test_cancel_a_run_in_flight(cluster: Cluster) -> None:
    run_id = submit(cluster, "slow.sloth", SLOW)
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        app.open_run(run_id)
        await until(
            pilot,
            lambda: (
                app.screen.run.tasks.get("wait") is not None
                and app.screen.run.tasks["wait"].status == "running"
            ),
            timeout=15,
        )
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("y")
        run = await finished(pilot)
        assert run.status == "cancelled" and run.tasks["after"].status in ("cancelled", "skipped", "pending")


@pytest.mark.asyncio
async def test_release_a_state_lock(cluster: Cluster) -> None:
    done = cluster.cli("state", "lock", "deploy-prod", "--ttl", "5m", "--holder", "ci@build1")
    assert done.returncode == 0, done.stderr
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        await pilot.press("3")
        await until(pilot, lambda: app.screen.query_one("#lock-table", FilterTable).row_count == 1)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await until(
            pilot, lambda: app.screen.query_one("#lock-table", FilterTable).row_count == 0, timeout=10
        )
    with cluster.client() as client:
        assert client.list_locks() == []


@pytest.mark.asyncio
async def test_stack_snapshot_drift_fix_and_restore(cluster: Cluster) -> None:
    motd = cluster.root / "motd"
    # A run of a stack is tracked by a local `run` (the master does not attach stacks to runs yet).
    done = cluster.cli("run", str(cluster.write("site.sloth", SITE % {"path": motd})))
    assert done.returncode == 0, done.stderr
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        await pilot.press("4")
        await until(
            pilot, lambda: (app.screen.detail or {}).get("stack", {}).get("name") == "site", timeout=10
        )
        await pilot.press("s")
        await settle(pilot)
        app.screen.query_one("#answer").value = "before the edit"
        await pilot.press("enter")
        await until(pilot, lambda: len(app.screen.detail["snapshots"]) == 1, timeout=10)
        motd.write_text("changed by hand")
        await pilot.press("D")
        await until(pilot, lambda: (app.screen.detail.get("drift") or {}).get("drifted") == 1, timeout=10)
        await pilot.press("F")
        await settle(pilot)
        await pilot.press("y")
        fixed = await finished(pilot)
        assert fixed.status == "success"
        assert motd.read_text() == "hello"
        await pilot.press("escape")
        await settle(pilot)
        app.screen.query_one("#stack-tabs").active = "tab-snapshots"
        app.screen.query_one("#snapshot-table").focus()
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    with cluster.client() as client:
        events = [e["type"] for e in client.list_events("snapshot.", limit=10)]
        assert "snapshot.restored" in events and "snapshot.created" in events


@pytest.mark.asyncio
async def test_schedule_disable_enable_fire(cluster: Cluster) -> None:
    done = cluster.cli(
        "scheduler", "add", "nightly", "--cron", "0 3 * * *", "--file", str(EXAMPLES / "hello_world.sloth")
    )
    assert done.returncode == 0, done.stderr
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = await started(pilot)
        await pilot.press("5")
        await until(pilot, lambda: [s["name"] for s in app.screen.schedules] == ["nightly"])
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("y")
        await until(
            pilot, lambda: app.screen.schedules and not app.screen.schedules[0]["enabled"], timeout=10
        )
        await pilot.press("e")
        await until(pilot, lambda: app.screen.schedules[0]["enabled"], timeout=10)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: app.screen.schedules[0].get("last_run_id"), timeout=10)
        run_id = app.screen.schedules[0]["last_run_id"]
        await until(
            pilot, lambda: any(e.get("run_id") == run_id for e in app.state.events), "the live events", 15
        )
    with cluster.client() as client:
        wait_for(lambda: client.get_run(run_id)["status"] == "success", 20, "the fired run")
    assert time.time() > 0
