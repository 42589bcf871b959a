"""The console steers what the CLI can, against a real master and agent (processes on
127.0.0.1): state keys set and deleted, hooks added from a file / disabled / tested / read /
deleted, schedules added and deleted, secrets set (typed hidden) and deleted, tokens revoked,
a command run on an agent with its output streamed, the agent stopped. Every destructive action
asks first, and `n` leaves everything as it was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from distributed_cluster import wait_for
from gateway_harness import PASSPHRASE, GatewayCluster
from tui_fake import settle, until

from sloth_tui.app import SlothApp
from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.output import ExecScreen, TextScreen
from sloth_tui.screens.prompt import PromptScreen
from sloth_tui.widgets.filter_table import FilterTable

pytestmark = pytest.mark.timeout(120)
SIZE = (120, 36)
HOOK = """
return {
  event_types = { "deploy.done" },
  execute = function(event)
    print("hook ran for " .. event.type)
    return true
  end,
}
"""
FLOW = """
local hello = task("hello"):command("echo hi")
workflow.define("flow"):tasks({ hello })
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayCluster]:
    c = GatewayCluster(tmp_path_factory.mktemp("steer"))
    try:
        c.start_master("127.0.0.1:0")
        c.start_agent("alpha")
        yield c
    finally:
        c.close()


def app_on(cluster: GatewayCluster) -> SlothApp:
    return SlothApp(cluster.client(), cluster.address)


async def answer(pilot: Any, text: str) -> PromptScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, PromptScreen), "a question")
    prompt = app.screen
    field = prompt.query_one("#answer")
    assert field.password == prompt.password
    field.value = text
    await pilot.press("enter")
    await settle(pilot)
    return prompt


async def confirm(pilot: Any, yes: bool = True) -> str:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
    question = app.screen.question
    await pilot.press("y" if yes else "n")
    await settle(pilot)
    return question


def store_value(cluster: GatewayCluster, read: Any) -> Any:
    store = cluster.store()
    try:
        return read(store)
    finally:
        store.close()


async def select(pilot: Any, table_id: str, key: str) -> None:
    app = pilot.app
    table = app.screen.query_one(f"#{table_id}", FilterTable)
    await until(pilot, lambda: any(k == key for k, _ in table.all_rows), f"row {key!r}", 15)
    table.select_key(key)
    table.focus()
    await settle(pilot)


@pytest.mark.asyncio
async def test_state_keys_set_and_delete(cluster: GatewayCluster) -> None:
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.press("s")
        await answer(pilot, "gw/version")
        await answer(pilot, '{"major": 2}')
        state = lambda: store_value(cluster, lambda s: s.state.get("gw", "version"))  # noqa: E731
        await until(pilot, lambda: state() == {"major": 2}, "the key to be set", 15)
        await select(pilot, "state-table", "gw\0version")
        await pilot.press("d")
        assert "Delete state key 'version'" in await confirm(pilot, yes=False)
        assert state() == {"major": 2}, "No leaves the key"
        await pilot.press("d")
        await confirm(pilot)
        await until(pilot, lambda: state() is None, "the key to be deleted", 15)


@pytest.mark.asyncio
async def test_hooks_add_disable_test_logs_delete(cluster: GatewayCluster) -> None:
    path = cluster.write("notify.lua", HOOK)

    def hooks() -> list[Any]:
        from sloth_engine.store.hooks import HookStore

        return store_value(cluster, lambda s: HookStore(s).list())

    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.press("7")
        await pilot.press("a")
        await answer(pilot, f"notify {path}")
        await until(pilot, lambda: [h.name for h in hooks()] == ["notify"], "the hook", 15)
        assert hooks()[0].event_types == ("deploy.done",)
        await select(pilot, "hook-table", "notify")
        await pilot.press("e")
        assert "Disable hook 'notify'" in await confirm(pilot)
        await until(pilot, lambda: not hooks()[0].enabled, "the hook disabled", 15)
        await pilot.press("e")  # enabling asks nothing
        await until(pilot, lambda: hooks()[0].enabled, "the hook enabled", 15)
        await pilot.press("t")
        await confirm(pilot)
        await until(pilot, lambda: isinstance(app.screen, TextScreen), "the test's result", 30)
        text = "\n".join(str(line) for line in app.screen.query_one("#output").lines)
        assert "success" in text and "hook ran for deploy.done" in text, text
        await pilot.press("escape")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, TextScreen), "the hook's runs", 15)
        text = "\n".join(str(line) for line in app.screen.query_one("#output").lines)
        assert "deploy.done" in text and "success" in text, text
        await pilot.press("escape")
        await pilot.press("d")
        await confirm(pilot)
        await until(pilot, lambda: hooks() == [], "the hook deleted", 15)


@pytest.mark.asyncio
async def test_schedules_add_and_delete(cluster: GatewayCluster) -> None:
    path = cluster.write("flow.sloth", FLOW)

    def schedules() -> list[Any]:
        from sloth_engine.store.schedules import ScheduleStore

        return store_value(cluster, lambda s: ScheduleStore(s).list())

    async with app_on(cluster).run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.press("a")
        await answer(pilot, "weekly")
        await answer(pilot, "0 4 * * 1")
        await answer(pilot, str(path))
        await until(pilot, lambda: [s.name for s in schedules()] == ["weekly"], "the schedule", 15)
        assert schedules()[0].cron == "0 4 * * 1" and schedules()[0].file.endswith("flow.sloth")
        await select(pilot, "schedule-table", "weekly")
        await pilot.press("d")
        assert "Delete schedule 'weekly'" in await confirm(pilot)
        await until(pilot, lambda: schedules() == [], "the schedule deleted", 15)


@pytest.mark.asyncio
async def test_secrets_set_hidden_and_delete(cluster: GatewayCluster) -> None:
    def secret() -> Any:
        from sloth_engine.errors import NotFound
        from sloth_engine.secrets.keys import key_material
        from sloth_engine.secrets.vault import SecretVault

        def read(store: Any) -> Any:
            try:
                return SecretVault(store, key_material({"SLOTH_SECRETS_PASSPHRASE": PASSPHRASE})).get(
                    "ops", "api_key"
                )
            except NotFound:
                return None

        return store_value(cluster, read)

    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = pilot.app
        await pilot.press("8")
        await pilot.press("s")
        await answer(pilot, "ops/api_key")
        prompt = await answer(pilot, "s3cr3t-value")
        assert prompt.password, "a secret's value is typed hidden"
        await until(pilot, lambda: secret() == "s3cr3t-value", "the secret", 15)
        await select(pilot, "secret-table", "ops\0api_key")
        assert "s3cr3t" not in str(app.screen.query_one("#secret-table").all_rows)
        await pilot.press("d")
        await confirm(pilot)
        await until(pilot, lambda: secret() is None, "the secret deleted", 15)


@pytest.mark.asyncio
async def test_tokens_list_and_revoke(cluster: GatewayCluster) -> None:
    from sloth_engine.store.tokens import TokenStore

    store_value(cluster, lambda s: TokenStore(s.backend).create("ci-bot", "operator"))

    def revoked() -> Any:
        rows = store_value(cluster, lambda s: TokenStore(s.backend).list())
        return next(t for t in rows if t.name == "ci-bot").revoked_at

    async with app_on(cluster).run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await select(pilot, "token-table", "ci-bot")
        await pilot.press("x")
        assert "Revoke token 'ci-bot'" in await confirm(pilot)
        await until(pilot, lambda: revoked() is not None, "the token revoked", 15)


@pytest.mark.asyncio
async def test_exec_on_an_agent_then_stop_it(cluster: GatewayCluster) -> None:
    async with app_on(cluster).run_test(size=SIZE) as pilot:
        app = pilot.app
        await until(pilot, lambda: "alpha" in app.state.agents, "the agent", 15)
        await pilot.press("2")
        await select(pilot, "agent-table", "alpha")
        await pilot.press("x")
        await answer(pilot, "echo out-line; echo err-line >&2; exit 3")
        assert "Run `echo out-line" in await confirm(pilot)
        await until(pilot, lambda: isinstance(app.screen, ExecScreen), "the output screen")
        screen = app.screen
        await until(pilot, lambda: screen.exit_code is not None, "the command's end", 30)
        text = "\n".join(str(line) for line in screen.query_one("#output").lines)
        assert "out-line" in text and "err-line" in text and "exit 3" in text, text
        assert screen.exit_code == 3
        await pilot.press("escape")
        await pilot.press("s")
        assert "Stop agent 'alpha'" in await confirm(pilot)
        wait_for(lambda: cluster.agents["alpha"].poll() is not None, 30, "the agent to exit")
