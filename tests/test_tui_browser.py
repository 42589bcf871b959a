"""`sloth-tui --serve` opened in a real headless Chromium (Debian's `chromium`, driven by
playwright through its executable_path; no browser of playwright's own): the browser logs in
on the --public-url address, the console's overview arrives over the websocket, a run of
hello_world is started with keystrokes into the page's terminal and is recorded by the
master, and every request the page made went to the console's own server.

The screen is read from what the browser's terminal is fed: the websocket's binary frames
(the console's output) replayed through pyte at the size the page reported ("resize")."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyte
import pytest
from distributed_cluster import Cluster, examples_cluster, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "browser-test-password"

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="needs Debian's chromium (.ci/run installs it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Screen:
    """The browser terminal's screen, rebuilt from the frames the page received."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)

    def sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str) and payload.startswith('["resize"'):
            size = json.loads(payload)[1]
            self.screen.resize(int(size["height"]), int(size["width"]))

    def received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            self.stream.feed(payload)

    def text(self) -> str:
        return "\n".join(self.screen.display)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with examples_cluster(tmp_path) as c:
        yield c


@pytest.fixture
def console(cluster: Cluster) -> Iterator[str]:
    """`sloth-tui --serve` on 127.0.0.1, announced to browsers as http://localhost:PORT."""
    port = _free_port()
    public = f"http://localhost:{port}"
    env = cluster.env()
    env.update(SLOTH_TUI_PASSWORD=PASSWORD)
    args = ["--master", cluster.address, "--serve", "--host", "127.0.0.1", "--port", str(port)]
    log = open(cluster.root / "console.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloth_tui", *args, "--public-url", public + "/"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def listening() -> bool:
            assert proc.poll() is None, (cluster.root / "console.log").read_text()
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, 30, "the console to listen")
        yield public
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def _launch(playwright: Any) -> Any:
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: install Debian's chromium package"
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",  # root in CI
            # nothing beyond this machine resolves: a page asking the internet fails loudly below
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
            "--disable-background-networking",
            "--disable-component-update",
        ],
    )


def test_a_run_started_from_the_browser_is_recorded(cluster: Cluster, console: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    screen = Screen()
    requests: list[str] = []
    sockets: list[str] = []

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requests.append(request.url))

            def on_socket(ws: Any) -> None:
                sockets.append(ws.url)
                ws.on("framesent", screen.sent)
                ws.on("framereceived", screen.received)

            page.on("websocket", on_socket)

            def shows(*texts: str, timeout: float = 60.0) -> str:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    text = screen.text()
                    if all(t in text for t in texts):
                        return text
                    page.wait_for_timeout(50)  # lets playwright deliver the frames that arrived
                page.screenshot(path=str(tmp_path / "page.png"))
                raise AssertionError(f"{texts} never on the page's terminal:\n{screen.text()}")

            page.goto(console + "/")
            assert page.url == console + "/login"
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(console + "/")

            shows("Overview", "connected", "alpha")
            page.wait_for_selector("body.-first-byte")  # textual.js drew the terminal
            page.click("#terminal")
            page.keyboard.type(":")
            shows("Search for commands")
            page.keyboard.type("run hello_world")
            shows("Run hello_world (hello_world.sloth)")
            page.keyboard.press("Enter")
            shows("Run a workflow")
            page.keyboard.press("Enter")  # picks hello_world (the dialog opens on the picker)
            shows("hello_world: Enter in a field")
            page.keyboard.press("Enter")  # in the values field: runs it
            final = shows("● 2 success", "level 0 (1)", "level 1 (1)")
            assert "hello_world" in final
            page.screenshot(path=str(tmp_path / "page.png"))
        finally:
            browser.close()

    runs = wait_for(lambda: cluster.client().list_runs(workflow="hello_world"), 20, "the run in the store")
    assert [r["status"] for r in runs] == ["success"], runs
    assert [url.partition("?")[0] for url in sockets] == [console.replace("http://", "ws://") + "/ws"], (
        sockets
    )
    foreign = [url for url in requests if not url.startswith(console + "/")]
    assert not foreign, f"the page reached beyond its server: {foreign}"
    assert {console + "/static/css/xterm.css", console + "/static/js/textual.js"} <= set(requests)
