"""The console's keys on the fake client: newest events first, the footer's and `?`'s order
(the screen's own keys first), sorting a table by key and by a click on its header, the
full-screen log (follow, search with n/N) and the run dialog's picker."""

from __future__ import annotations

from typing import Any

import pytest
from tui_fake import NOW, FakeClient, console, settle
from tui_fake import until as until_quick

from sloth_engine.executor.results import RunEvent
from sloth_tui.widgets.filter_table import FilterTable

SIZE = (120, 36)


async def until(pilot: Any, check: Any, what: str = "the console", timeout: float = 30.0) -> None:
    """tui_fake.until with a timeout for a loaded machine."""
    await until_quick(pilot, check, what, timeout)


def rows(app: Any, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(f"#{table_id}", FilterTable)
    return [[getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


def footer(app: Any) -> list[tuple[str, str]]:
    from textual.widgets import Footer

    return [(k.key_display, k.description) for k in app.screen.query_one(Footer).query("FooterKey")]


async def start(pilot: Any) -> Any:
    app = pilot.app
    await until(pilot, lambda: app.state.connected and app.state.runs and len(app.state.agents) == 3)
    return app


def event(ts: float, kind: str) -> dict[str, Any]:
    return {"id": None, "ts": ts, "type": kind, "severity": "info", "source": "t", "stack": None,
            "run_id": None, "data": {}}  # fmt: skip


@pytest.mark.asyncio
async def test_events_are_newest_first_on_the_overview_and_the_events_screen() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        listed = [e["type"] for e in sorted(client.events, key=lambda e: -e["ts"])]
        assert [r[1] for r in rows(app, "events")] == listed
        client.event_feed.put(event(NOW + 5, "agent.connected"))
        client.event_feed.put(event(NOW - 500, "old.event"))  # late, and older than all: last
        await until(pilot, lambda: len(rows(app, "events")) == 8)
        shown = [r[1] for r in rows(app, "events")]
        assert shown[0] == "agent.connected" and shown[-1] == "old.event"
        await pilot.press("6")
        await settle(pilot)
        assert [r[1] for r in rows(app, "event-table")] == shown


@pytest.mark.asyncio
async def test_footer_and_help_show_the_screens_own_keys_first_then_the_screen_numbers() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        keys = footer(app)
        assert keys[0] == ("c", "Cancel run")
        assert keys[1:3] == [(">", "Sort"), ("<", "Reverse")]
        assert [k for k, _ in keys[3:12]] == [str(n) for n in range(1, 10)]
        assert [k for k, _ in keys[12:]] == ["esc", "/", "?", "n", "q", ":"]
        await pilot.press("3")
        await settle(pilot)
        assert [d for _, d in footer(app)[:4]] == [
            "Release lock",
            "Force-release lock",
            "Set key",
            "Delete key",
        ]
        await pilot.press("question_mark")
        await settle(pilot)
        table = app.screen.query_one("#keys")
        help_rows = [
            [getattr(c, "plain", str(c)) for c in table.get_row_at(i)] for i in range(table.row_count)
        ]
        assert help_rows[0] == ["This screen", "x", "Release lock"]
        assert [r[2] for r in help_rows[:4]] == [
            "Release lock",
            "Force-release lock",
            "Set key",
            "Delete key",
        ]
        sections = [r[0] for r in help_rows if r[0]]
        assert sections == ["This screen", "Table/graph", "Screens", "Everywhere"]
        where = {r[2]: i for i, r in enumerate(help_rows)}
        assert where["Delete key"] < where["Overview"] < where["Filter"] < where["Help"]


@pytest.mark.asyncio
async def test_sort_a_table_by_key_and_by_a_click_on_its_header() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        given = [r[0] for r in rows(app, "runs")]
        assert given == ["r-deploy", "r-backup", "r-nightly"]  # in flight first, then newest
        await pilot.press("greater_than_sign")  # sort by the first column
        await settle(pilot)
        assert [r[0] for r in rows(app, "runs")] == ["r-backup", "r-deploy", "r-nightly"]
        assert str(app.screen.query_one("#runs", FilterTable).ordered_columns[0].label) == "run ▲"
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert [r[0] for r in rows(app, "runs")] == ["r-nightly", "r-deploy", "r-backup"]
        # a click on a header sorts by its column (durations by value), a second one reverses
        table = app.screen.query_one("#runs", FilterTable)

        def click_header(index: int) -> None:
            column = table.ordered_columns[index]
            table.post_message(table.HeaderSelected(table, column.key, index, column.label))

        click_header(4)
        await settle(pilot)
        assert [r[4] for r in rows(app, "runs")] == ["10.0s", "42.0s", "1m40s"]
        click_header(4)
        await settle(pilot)
        assert [r[4] for r in rows(app, "runs")] == ["1m40s", "42.0s", "10.0s"]
        click_header(5)  # the stack: a run without one stays last either way
        await settle(pilot)
        assert [r[5] for r in rows(app, "runs")] == ["db", "web", ""]
        click_header(5)
        await settle(pilot)
        assert [r[5] for r in rows(app, "runs")] == ["web", "db", ""]
        await pilot.click("#runs", offset=(2, 0))  # the header of the first column
        await settle(pilot)
        assert [r[0] for r in rows(app, "runs")] == ["r-backup", "r-deploy", "r-nightly"]


@pytest.mark.asyncio
async def test_full_screen_log_follows_new_lines_and_searches_with_n() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "run", None) is not None and app.screen.run.tasks)
        await until(pilot, lambda: app.screen.run.tasks["checkout"].log_total == 3, timeout=30)
        app.screen.query_one("#dag").select("checkout")
        await pilot.press("o")
        await settle(pilot)
        view = app.screen.query_one("#log-view")
        assert [line for _, line in view.lines] == [f"checkout: step {i}" for i in (1, 2, 3)]
        assert view.following
        feed = client.run_feeds["r-deploy"]
        for i in range(4, 104):
            feed.put(
                RunEvent(
                    "task.log",
                    "r-deploy",
                    "deploy",
                    NOW,
                    "checkout",
                    1,
                    "stdout",
                    {"line": f"checkout: step {i}"},
                )
            )
        await until(pilot, lambda: len(view.lines) == 103, "the new lines", timeout=30)
        await until(
            pilot,
            lambda: view.scroll_offset.y == view.max_scroll_y and view.max_scroll_y > 0,
            "following",
            timeout=30,
        )
        await pilot.press("slash", *"step 1", "enter")
        await settle(pilot)
        matches = [i for i, (_, line) in enumerate(view.lines) if "step 1" in line]
        assert view.matches == matches and not view.following
        assert view.current == 0  # the first match from the top of the view down: wraps to the first
        await pilot.press("n")
        assert view.current == 1
        await pilot.press("N", "N")
        assert view.current == len(matches) - 1
        assert "'step 1': " in str(app.screen.query_one("#log-title").render())
        await pilot.press("f")
        assert view.following
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.TITLE_TEXT == "Run r-deploy"


@pytest.mark.asyncio
async def test_the_run_dialog_opens_on_the_picker_and_a_local_file_asks_its_path() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.focused is app.screen.query_one("#workflow")
        await pilot.press("down", "down", "enter")  # the last option: a local file
        await settle(pilot)
        assert app.focused is app.screen.query_one("#path")
        await pilot.press("enter")  # no path yet: said, nothing runs
        await settle(pilot)
        assert "path" in str(app.screen.query_one("#problem").render())
        assert not [c for c in client.calls if c[0] == "submit_run"]


@pytest.mark.asyncio
async def test_retry_failed_only_and_run_all_again_from_a_run() -> None:
    client = FakeClient()
    app = console(client)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot)
        app.open_run("r-deploy")
        await until(pilot, lambda: getattr(app.screen, "run", None) is not None and app.screen.run.tasks)
        await pilot.press("t")  # still running: said, nothing asked
        await settle(pilot)
        assert not [c for c in client.calls if c[0] == "retry_run"]
        app.open_run("r-backup")
        await until(pilot, lambda: getattr(app.screen, "replays", None) is False)
        await pilot.press("T")
        await settle(pilot)
        assert "Every task runs again" in str(app.screen.query_one("#question").render())
        await pilot.press("y")
        await until(pilot, lambda: ("retry_run", "r-backup", False) in client.calls)
