"""The console on the fake client (exact data): every screen's content, every action's call,
the palette, filter, help and back, live stream updates and a lost connection. Tests await
the app's workers and messages (tui_fake.until/settle), never a fixed sleep."""

from __future__ import annotations

from typing import Any

import pytest
from tui_fake import NOW, FakeClient, console, settle, until

from sloth_engine.executor.results import RunEvent, RunResult, TaskResult
from sloth_engine.spec import RunStatus, TaskStatus
from sloth_tui.widgets.filter_table import FilterTable

SIZE = (120, 36)


def rows(app: Any, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(f"#{table_id}", FilterTable)
    return [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def start(pilot: Any) -> Any:
    app = pilot.app
    await until(pilot, lambda: app.state.connected and app.state.runs and len(app.state.agents) == 3)
    return app


async def answer(pilot: Any, yes: bool = True) -> None:
    await settle(pilot)
    await pilot.press("y" if yes else "n")
    await settle(pilot)


@pytest.mark.asyncio
async def test_overview_shows_runs_agents_locks_events_and_opens_a_run() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        assert [r[:3] for r in rows(app, "runs")] == [
            ["r-deploy", "deploy", "running"],
            ["r-backup", "backup", "failed"],
            ["r-nightly", "nightly", "success"],
        ]
        assert [r[:2] for r in rows(app, "agents")] == [
            ["alpha", "connected"],
            ["beta", "connected"],
            ["gamma", "lost"],
        ]
        assert [r[:3] for r in rows(app, "locks")] == [
            ["deploy-prod", "state", "ci@build1"],
            ["web", "stack", "r-deploy"],
        ]
        assert rows(app, "events")[0][1] == "schedule.triggered"
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "run", None) is not None and app.screen.run.tasks)
        assert app.screen.run.run_id == "r-deploy"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.TITLE_TEXT == "Overview"


@pytest.mark.asyncio
async def test_run_detail_lays_out_levels_follows_the_stream_and_shows_the_task() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        app.open_run("r-deploy")
        await until(pilot, lambda: getattr(app.screen, "following", False))
        run = app.screen.run
        assert run.columns == [
            ["checkout"],
            ["lint", "unit", "build"],
            ["image", "migrate"],
            ["e2e", "push"],
            ["deploy-eu", "deploy-us"],
            ["smoke"],
            ["notify"],
        ]
        assert (run.tasks["migrate"].status, run.tasks["migrate"].attempts) == ("retrying", 2)
        panel = app.screen.query_one("#task-panel")
        await until(pilot, lambda: panel.task_name == "checkout" and panel.lines_shown == 3)
        assert not [c for c in client.calls if c[0] == "run_logs"], "a run in flight replays its log"
        feed = client.run_feeds["r-deploy"]
        feed.put(RunEvent("task.finished", "r-deploy", "deploy", NOW + 1, "image", 1, "success", {}))
        feed.put(
            RunEvent(
                "task.log", "r-deploy", "deploy", NOW + 1, "checkout", 1, "stdout", {"line": "late line"}
            )
        )
        await until(pilot, lambda: run.tasks["image"].status == "success" and panel.lines_shown == 4)
        await pilot.press("right", "right", "down")
        await settle(pilot)
        assert panel.task_name == "migrate"
        report = RunResult(
            "r-deploy",
            "deploy",
            RunStatus.FAILED,
            50.0,
            [TaskResult("migrate", TaskStatus.FAILED, 3, error="gave up")],
        )
        feed.put(report)
        await until(pilot, lambda: run.status == "failed")
        assert run.tasks["migrate"].attempts == 3 and run.tasks["migrate"].error == "gave up"


@pytest.mark.asyncio
async def test_cancel_and_retry_ask_first() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("c")
        await answer(pilot, yes=False)
        assert ("cancel_run", "r-deploy") not in client.calls
        await pilot.press("c")
        await answer(pilot)
        assert ("cancel_run", "r-deploy") in client.calls
        app.open_run("r-backup")
        await until(pilot, lambda: getattr(app.screen, "replays", None) is False)
        await settle(pilot)
        assert client.calls[-1] == ("run_logs", "r-backup", "dump"), "a finished run's log is read"
        await pilot.press("t")
        await settle(pilot)
        question = str(app.screen.query_one("#question").render())
        assert "Runs again only its failed and skipped tasks: dump" in question
        await answer(pilot)
        assert ("retry_run", "r-backup", True) in client.calls
        await until(pilot, lambda: getattr(getattr(app.screen, "run", None), "run_id", "") == "r-nightly")


@pytest.mark.asyncio
async def test_agents_sparklines_come_from_the_heartbeats() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("2")
        await settle(pilot)
        spark = app.screen.query_one("#cpu-spark")
        assert list(spark.data) == [10, 25, 40, 80, 95, 60, 30, 20, 50, 70]
        assert "image  (run r-deploy)" in str(app.screen.query_one("#agent-tasks").render())
        beat = {
            **client.agents[0],
            "metrics": {**client.agents[0]["metrics"], "cpu_percent": 12.0, "ts": NOW + 5},
        }
        client.agent_feed.put(beat)
        await until(pilot, lambda: list(spark.data)[-1] == 12.0)
        assert [r[:2] for r in rows(app, "agent-table")][2] == ["gamma", "lost"]


@pytest.mark.asyncio
async def test_locks_release_and_force_release() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert [r[0] for r in rows(app, "state-table")] == ["deploy", "deploy", "cache"]
        await pilot.press("x")
        await answer(pilot)
        assert ("release_lock", "state", "deploy-prod", 7, False) in client.calls
        await until(pilot, lambda: [r[0] for r in rows(app, "lock-table")] == ["web"])
        await pilot.press("X")
        await answer(pilot)
        assert ("release_lock", "stack", "web", 9, True) in client.calls


@pytest.mark.asyncio
async def test_stacks_snapshot_restore_diff_and_drift() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("4", "down")
        await until(pilot, lambda: (app.screen.detail or {}).get("stack", {}).get("name") == "web")
        assert [r[0] for r in rows(app, "resource-table")] == [
            "file.nginx.conf",
            "pkg.nginx",
            "service.nginx",
        ]
        assert "mode: expected" in str(app.screen.query_one("#drift").render())
        assert "L0   net" in str(app.screen.query_one("#deps").render())
        await pilot.press("s")
        await settle(pilot)
        app.screen.query_one("#answer").value = "pre-upgrade"
        await pilot.press("enter")
        await settle(pilot)
        assert ("create_snapshot", "web", "pre-upgrade") in client.calls
        app.screen.query_one("#stack-tabs").active = "tab-snapshots"
        app.screen.query_one("#snapshot-table").focus()
        await settle(pilot)
        await pilot.press("R")
        await answer(pilot)
        assert ("restore_snapshot", "web", "v2") in client.calls
        await pilot.press("d")
        await settle(pilot)
        assert app.screen.TITLE_TEXT == "Stack web: v2 ↔ current"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        assert ("detect_drift", "web") in client.calls
        await pilot.press("F")
        await answer(pilot)
        assert ("fix_drift", "web") in client.calls


@pytest.mark.asyncio
async def test_scheduler_enable_disable_fire() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("5")
        await settle(pilot)
        table = rows(app, "schedule-table")
        assert [(r[0], r[1], r[3]) for r in table] == [
            ("nightly", "yes", "2027-01-16 03:00:00"),
            ("backup", "no", "-"),
        ]
        await pilot.press("e")
        await answer(pilot)
        assert ("set_schedule_enabled", "nightly", False) in client.calls
        await pilot.press("down", "e")
        await settle(pilot)
        assert ("set_schedule_enabled", "backup", True) in client.calls
        await pilot.press("f")
        await answer(pilot)
        assert ("fire_schedule", "backup") in client.calls


@pytest.mark.asyncio
async def test_events_tail_live_with_a_filter() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert len(rows(app, "event-table")) == 6
        event = {"id": None, "ts": NOW + 1, "type": "drift.detected", "severity": "warning", "source": "stacks",
                 "stack": "web", "run_id": None, "data": {"drifted": 1}}  # fmt: skip
        client.event_feed.put(event)
        await until(pilot, lambda: rows(app, "event-table")[0][1] == "drift.detected")
        await pilot.press("slash", *"lock")
        await settle(pilot)
        assert [r[1] for r in rows(app, "event-table")] == ["lock.acquired"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(rows(app, "event-table")) == 7


@pytest.mark.asyncio
async def test_hooks_and_secret_names() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("7")
        await settle(pilot)
        assert [(r[0], r[6]) for r in rows(app, "hook-table")] == [
            ("page-oncall", "success"),
            ("audit", "timeout"),
        ]
        await pilot.press("8")
        await settle(pilot)
        assert [r[:3] for r in rows(app, "secret-table")] == [
            ["db", "password", "••••••"],
            ["web", "api_key", "••••••"],
            ["web", "tls_key", "••••••"],
        ]


@pytest.mark.asyncio
async def test_palette_jumps_and_runs_a_workflow_and_help_lists_keys() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("colon", *"stacks", "enter")
        await settle(pilot)
        assert app.screen.TITLE_TEXT == "Stacks"
        await pilot.press("question_mark")
        await settle(pilot)
        keys = app.screen.query_one("#keys")
        described = {str(keys.get_row_at(i)[2]) for i in range(keys.row_count)}
        assert {"Snapshot", "Restore snapshot", "Fix drift", "Filter", "Back", "Help"} <= described
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.screen.TITLE_TEXT == "Overview"
        await pilot.press("colon", *"hello", "enter")
        await settle(pilot)
        assert app.focused is app.screen.query_one("#workflow")  # the dialog opens on the picker
        await pilot.press("enter")  # picks hello_world: nothing runs yet
        await settle(pilot)
        assert not [c for c in client.calls if c[0] == "submit_run"]
        assert app.focused is app.screen.query_one("#values")
        app.screen.query_one("#values").value = "name=Ada"
        await pilot.press("enter")
        await settle(pilot)
        submitted = [c for c in client.calls if c[0] == "submit_run"]
        assert submitted == [
            (
                "submit_run",
                "/srv/flows/hello_world.sloth",
                "-- source of /srv/flows/hello_world.sloth",
                "hello_world",
                {"name": "Ada"},
                {},
            )
        ]
        await until(pilot, lambda: getattr(getattr(app.screen, "run", None), "run_id", "") == "r-nightly")


@pytest.mark.asyncio
async def test_a_lost_master_is_shown_and_retried_never_a_crash() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        client.down = True
        await until(pilot, lambda: not app.state.connected, "the loss to show")
        bar = app.screen.query_one("#status")
        assert "connection lost, retrying" in str(bar.render())
        await pilot.press("r", "3", "4")
        await settle(pilot)
        client.down = False
        client.agent_feed.put(client.agents[1])
        await until(pilot, lambda: app.state.connected, "the reconnection", timeout=10)
        assert "connected" in str(bar.render())
