"""`sloth-tui --serve` behind a login, against a real `sloth-tui --serve` process: the page and
the websocket are refused without the session cookie, a wrong password is refused, the right
one opens both (the websocket answers a ping), the operator's token never appears in a page,
and a public bind without TLS is refused unless --insecure-public."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(90)
ADDRESS = re.compile(r"""(?:https?|wss?)://[^"'\s)]+""")
"""Every absolute address in a page (links, scripts, fonts, the websocket)."""
OPERATOR_TOKEN = "slt_0123456789abcdef_operator-secret-never-in-a-page"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tui(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("SLOTH_TUI_PASSWORD", "SLOTH_TOKEN")}
    full.update(SLOTH_HOME=str(tmp_path), **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "sloth_tui", "--master", "127.0.0.1:1", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    port = _free_port()
    proc = _tui(tmp_path, "--serve", "--host", "127.0.0.1", "--port", str(port), "--token", OPERATOR_TOKEN)
    try:
        password = ""
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        while not password and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(f"sloth-tui --serve exited with {proc.returncode}")
            if line.startswith("console password: "):
                password = line.split(": ", 1)[1].strip()
        assert password, "the console password was not printed"
        base = f"http://127.0.0.1:{port}"
        _wait_listening(port)
        yield base, password
    finally:
        _stop(proc)


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("the console never listened")


async def _exercise(base: str, password: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anonymous:
        page = await anonymous.get(base + "/", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"] == "/login"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(base + "/ws")
        assert refused.value.status == 401
        assert (await anonymous.get(base + "/static/js/textual.js")).status == 401
        wrong = await anonymous.post(base + "/login", data={"password": "guess"}, allow_redirects=False)
        assert wrong.status == 401 and "Wrong password" in await wrong.text()
        assert not anonymous.cookie_jar.filter_cookies(base)

    # unsafe=True: aiohttp keeps no cookies of IP-address hosts otherwise (browsers do)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as operator:
        login = await operator.post(base + "/login", data={"password": password}, allow_redirects=False)
        assert login.status == 302 and "httponly" in login.headers["Set-Cookie"].lower()
        page = await operator.get(base + "/")
        html = await page.text()
        assert page.status == 200 and "/ws" in html
        assert OPERATOR_TOKEN not in html and "operator-secret" not in html
        host = base.partition("://")[2]
        addresses = ADDRESS.findall(html)
        assert f"ws://{host}/ws" in addresses and f"{base}/static/js/textual.js" in addresses
        assert all(a.partition("://")[2].startswith(host + "/") for a in addresses), addresses
        foreign = operator.ws_connect(base + "/ws", headers={"Origin": "http://evil.example"})
        with pytest.raises(aiohttp.WSServerHandshakeError) as cross:
            await foreign
        assert cross.value.status == 403
        ws = await operator.ws_connect(base + "/ws?width=80&height=24")
        await ws.send_json(["ping", "are-you-there"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = await ws.receive(timeout=20)
            if message.type == aiohttp.WSMsgType.TEXT and message.json() == ["pong", "are-you-there"]:
                break
        else:
            raise AssertionError("the authenticated websocket did not answer")
        await ws.close()


def test_the_console_needs_a_login(served: tuple[str, str]) -> None:
    base, password = served
    asyncio.run(_exercise(base, password))


def test_public_plain_http_is_refused_unless_asked(tmp_path: Path) -> None:
    port = str(_free_port())
    refused = _tui(tmp_path, "--serve", "--host", "0.0.0.0", "--port", port)
    _, err = refused.communicate(timeout=30)
    assert refused.returncode == 2 and "--insecure-public" in err and "clear text" in err
    half = _tui(tmp_path, "--serve", "--host", "127.0.0.1", "--port", port, "--serve-cert", "c.pem")
    _, err = half.communicate(timeout=30)
    assert half.returncode == 2 and "--serve-key" in err
    allowed = _tui(
        tmp_path,
        "--serve",
        "--host",
        "0.0.0.0",
        "--port",
        port,
        "--insecure-public",
        env={"SLOTH_TUI_PASSWORD": "given-password"},
    )
    try:
        _wait_listening(int(port))
        assert allowed.poll() is None
    finally:
        _stop(allowed)


def test_public_url_puts_the_page_behind_a_proxy_prefix(tmp_path: Path) -> None:
    """--public-url https://console.example.com/sloth/: a TLS proxy forwards /sloth/* here with
    the prefix stripped. Redirects, the form, the cookie's path and every address in the page
    use the public URL; the websocket takes the public origin only."""
    port = _free_port()
    public = "https://console.example.com/sloth"
    proc = _tui(
        tmp_path,
        *("--serve", "--host", "127.0.0.1", "--port", str(port), "--public-url", public + "/"),
        env={"SLOTH_TUI_PASSWORD": "proxy-password"},
    )
    try:
        _wait_listening(port)
        asyncio.run(_behind_a_proxy(f"http://127.0.0.1:{port}", public))
    finally:
        _stop(proc)


async def _behind_a_proxy(local: str, public: str) -> None:
    async with aiohttp.ClientSession() as session:
        page = await session.get(local + "/", allow_redirects=False)
        assert page.status == 302 and page.headers["Location"] == "/sloth/login"
        form = await (await session.get(local + "/login")).text()
        assert 'action="/sloth/login"' in form
        login = await session.post(
            local + "/login", data={"password": "proxy-password"}, allow_redirects=False
        )
        assert login.status == 302 and login.headers["Location"] == "/sloth/"
        cookie = login.cookies["sloth_console"]
        assert cookie["secure"] and cookie["path"] == "/sloth/"  # the browser sees https
        headers = {"Cookie": f"sloth_console={cookie.value}"}
        html = await (await session.get(local + "/", headers=headers)).text()
        addresses = ADDRESS.findall(html)
        assert "wss://console.example.com/sloth/ws" in addresses
        assert f"{public}/static/js/textual.js" in addresses and f"{public}/static/css/xterm.css" in addresses
        assert all(a.partition("://")[2].startswith("console.example.com/sloth/") for a in addresses), (
            addresses
        )
        with pytest.raises(aiohttp.WSServerHandshakeError) as local_origin:
            await session.ws_connect(local + "/ws", headers={**headers, "Origin": local})
        assert local_origin.value.status == 403
        ws = await session.ws_connect(
            local + "/ws?width=80&height=24", headers={**headers, "Origin": "https://console.example.com"}
        )
        await ws.send_json(["ping", "through-the-proxy"])
        while True:
            message = await ws.receive(timeout=30)
            if message.type == aiohttp.WSMsgType.TEXT and message.json() == ["pong", "through-the-proxy"]:
                break
        await ws.close()


@pytest.mark.parametrize(
    "url", ["console.example.com", "ftp://x.example", "https://x.example:99999", "https://x/?a=1"]
)
def test_a_public_url_that_is_no_address_is_refused(tmp_path: Path, url: str) -> None:
    proc = _tui(tmp_path, "--serve", "--port", str(_free_port()), "--public-url", url)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--public-url" in err and "Traceback" not in err, err
