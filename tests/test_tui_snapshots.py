"""SVG snapshots of every console screen at 120x36, on the fake client's fixed data at a fixed
time (tests/__snapshots__/test_tui_snapshots/). A baseline changes only after someone looked:
`pytest tests/test_tui_snapshots.py --snapshot-update`, then review the SVGs."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tui_fake import console, settle, until

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def loaded(app: Any) -> bool:
    alpha = app.state.agents.get("alpha")
    return bool(app.state.connected and app.state.runs and alpha is not None and len(alpha.cpu) == 10)


def go(keys: str | list[str], ready: Any = None) -> Any:
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await until(pilot, lambda: loaded(app))
        await pilot.press(*keys)
        await settle(pilot)
        if ready is not None:
            await until(pilot, lambda: ready(app))

    return run_before


def test_overview(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go(""))


def test_run_detail(snap_compare: Any) -> None:
    def ready(app: Any) -> bool:
        panel = app.screen.query("#task-panel")
        return bool(panel) and panel.first().task_name is not None

    assert snap_compare(console(), terminal_size=SIZE, run_before=go(["enter"], ready))


def test_agents(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("2"))


def test_state_and_locks(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("3"))


def test_stacks(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("4"))


def test_stacks_drift(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await go("4")(pilot)
        pilot.app.screen.query_one("#stack-tabs").active = "tab-drift"
        await pilot.pause()

    assert snap_compare(console(), terminal_size=SIZE, run_before=before)


def test_snapshot_diff(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await go("4")(pilot)
        pilot.app.screen.query_one("#stack-tabs").active = "tab-snapshots"
        await pilot.pause()
        await pilot.click("#snapshot-table")
        await pilot.press("space", "down", "space", "d")
        await settle(pilot)

    assert snap_compare(console(), terminal_size=SIZE, run_before=before)


def test_scheduler(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("5"))


def test_events(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("6"))


def test_hooks(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("7"))


def test_secrets(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("8"))


def test_help(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go(["3", "question_mark"]))


def test_palette(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go(["colon", "r", "u", "n"]))


def test_run_dialog(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("n"))


def test_tokens(snap_compare: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=go("9"))


def test_agent_exec_output(snap_compare: Any) -> None:
    async def before(pilot: Any) -> None:
        await go("2")(pilot)
        await pilot.press("x")
        await until(pilot, lambda: pilot.app.screen.query("#answer"))
        pilot.app.screen.query_one("#answer").value = "uptime"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: getattr(pilot.app.screen, "exit_code", None) is not None)
        await settle(pilot)

    assert snap_compare(console(), terminal_size=SIZE, run_before=before)


def test_secret_value_prompt(snap_compare: Any) -> None:
    """The value of a secret being set shows as dots."""

    async def before(pilot: Any) -> None:
        await go("8")(pilot)
        await pilot.press("s")
        await until(pilot, lambda: pilot.app.screen.query("#answer"))
        pilot.app.screen.query_one("#answer").value = "web/api_key"
        await pilot.press("enter")
        await settle(pilot)
        await until(pilot, lambda: pilot.app.screen.query("#answer"))
        await pilot.press(*"hunter2")
        await settle(pilot)

    assert snap_compare(console(), terminal_size=SIZE, run_before=before)


def test_task_log_search(snap_compare: Any) -> None:
    """A task's log full screen, searched: matches highlighted, the current one more."""

    async def before(pilot: Any) -> None:
        app = pilot.app
        await go(["enter"])(pilot)
        await until(pilot, lambda: app.screen.run.tasks["checkout"].log_total == 3)
        app.screen.query_one("#dag").select("checkout")
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("slash", *"step 2", "enter")
        await settle(pilot)

    assert snap_compare(console(), terminal_size=SIZE, run_before=before)


def test_overview_sorted_by_duration(snap_compare: Any) -> None:
    """`>` four times: the runs sorted by duration, the header's arrow on that column."""
    keys = ["greater_than_sign"] * 5
    assert snap_compare(console(), terminal_size=SIZE, run_before=go(keys))
