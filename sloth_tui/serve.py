"""`sloth-tui --serve`: the console in web browsers (textual-serve), behind a login.

textual-serve's aiohttp application serves the page (`/`), its scripts (`/static`) and one
websocket per browser session (`/ws`), each session running its own `sloth-tui` process on
the master. Here that application gets a middleware: every request but the login page needs
the session cookie made by logging in with the console password (given with
--serve-password / $SLOTH_TUI_PASSWORD, else made at start and printed once on stderr). The
websocket also checks that its Origin is this server (a page of another site cannot drive
the console with the operator's cookie). The operator's gRPC token never reaches a browser:
it goes to the console processes through their environment only.

Beyond loopback the console is refused without TLS (--serve-cert/--serve-key) unless
--insecure-public says so: the password and the cookie would travel in clear text.

The page is made here from sloth_tui/web/console.html, not textual-serve's own template (which
loads a stylesheet from a font CDN): everything it loads comes from this server. Its links
and websocket address follow --public-url when given (the console behind a reverse proxy,
with or without a path prefix), else the address the browser used.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from textual_serve.server import Server

COOKIE = "sloth_console"
FAILED_LOGIN_DELAY = 1.0
"""Seconds a wrong password waits before its answer (guessing gets slow)."""
MAX_SESSIONS = 1000

_LOGIN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sloth Runner console: log in</title></head>
<body style="font-family: sans-serif; max-width: 28em; margin: 4em auto">
<h1>Sloth Runner console</h1>
<p>{message}</p>
<form method="post" action="{prefix}/login">
<label>Console password <input type="password" name="password" autofocus></label>
<button type="submit">Log in</button>
</form></body></html>
"""


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    password: str
    cert: str | None = None
    key: str | None = None
    insecure_public: bool = False
    public_url: str | None = None
    """Where browsers reach the console (a reverse proxy's address), if not where it listens."""

    @property
    def tls(self) -> bool:
        return bool(self.cert and self.key)

    @property
    def prefix(self) -> str:
        """The public URL's path ('' or '/console'): the console's routes are under it."""
        return urlsplit(self.public_url).path.rstrip("/") if self.public_url else ""

    @property
    def secure_cookie(self) -> bool:
        return self.tls or bool(self.public_url and self.public_url.startswith("https://"))


class ServeRefused(Exception):
    """The options are unsafe or incomplete (the message says what to do)."""


def check_public_url(url: str) -> str:
    """The --public-url given, without a trailing slash; ServeRefused if it is no http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ServeRefused(
            f"--public-url {url!r} is not an address for browsers: give http(s)://HOST[:PORT][/PATH],"
            " e.g. https://console.example.com or http://10.0.0.5:8080"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ServeRefused(f"--public-url {url!r}: the port is not a number from 1 to 65535") from None
    return url.rstrip("/")


def check_options(options: ServeOptions) -> None:
    if options.public_url is not None:
        check_public_url(options.public_url)
    if bool(options.cert) != bool(options.key):
        raise ServeRefused("TLS for --serve needs both --serve-cert and --serve-key")
    if not options.tls and not is_loopback(options.host) and not options.insecure_public:
        raise ServeRefused(
            f"refusing to serve the console on {options.host} without TLS: the password and the"
            " session cookie would cross the network in clear text. Give --serve-cert and"
            " --serve-key, bind to localhost, or pass --insecure-public if you mean it"
        )


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GuardedServer(Server):  # type: ignore[misc]
    """textual-serve's Server with a login in front of every route, and TLS when given."""

    def __init__(self, command: str, options: ServeOptions, title: str) -> None:
        scheme = "https" if options.tls else "http"
        host = f"[{options.host}]" if ":" in options.host else options.host
        super().__init__(
            command,
            host=options.host,
            port=options.port,
            title=title,
            public_url=options.public_url or f"{scheme}://{host}:{options.port}",
        )
        self.options = options
        self.sessions: set[str] = set()

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        return app

    def _base_url(self, request: web.Request) -> str:
        """Where this browser reaches the console: --public-url, else the address it used."""
        if self.options.public_url:
            return self.options.public_url.rstrip("/")
        return f"{'https' if self.options.tls else 'http'}://{request.host}"

    async def handle_index(self, request: web.Request) -> web.Response:
        """The console's page, from the local template: every link points at this server."""
        base = self._base_url(request)
        html = _template().render(
            title=self.title,
            static_url=f"{base}/static/",
            websocket_url=("wss:" if base.startswith("https") else "ws:") + base.partition(":")[2] + "/ws",
            font_size=_font_size(request.query.get("fontsize", "")),
        )
        return web.Response(text=html, content_type="text/html")

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/login":
            return await handler(request)
        if not self._logged_in(request):
            if request.path == "/" and request.method == "GET":
                raise web.HTTPFound(self.options.prefix + "/login")
            raise web.HTTPUnauthorized(text="log in first (/login)")
        if request.path == "/ws" and not self._same_origin(request):
            raise web.HTTPForbidden(text="the console's websocket is for its own pages only")
        return await handler(request)

    def _logged_in(self, request: web.Request) -> bool:
        session = request.cookies.get(COOKIE, "")
        return bool(session) and any(hmac.compare_digest(session, s) for s in self.sessions)

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: the cookie is what it proves
        if self.options.public_url:
            public = urlsplit(self.options.public_url)
            return origin == f"{public.scheme}://{public.netloc}"
        return origin.partition("://")[2] == request.host

    async def _login_page(self, request: web.Request) -> web.Response:
        message = "Log in with the console password printed when the console started."
        return _page(message, self.options.prefix)

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given = str(form.get("password", ""))
        if not hmac.compare_digest(given.encode(), self.options.password.encode()):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            return _page("Wrong password.", self.options.prefix, status=401)
        if len(self.sessions) >= MAX_SESSIONS:
            self.sessions.pop()
        session = secrets.token_urlsafe(32)
        self.sessions.add(session)
        response = web.HTTPFound(self.options.prefix + "/")
        response.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="Strict",
            secure=self.options.secure_cookie,
            path=self.options.prefix + "/",
        )
        raise response

    def serve(self, debug: bool = False) -> None:
        """textual-serve's serve(), with TLS when a certificate is given."""
        context = None
        if self.options.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.options.cert), str(self.options.key))
        self._run(context)

    def _run(self, context: ssl.SSLContext | None) -> None:
        import signal

        self.debug = False
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.options.host,
            port=self.options.port,
            ssl_context=context,
            handle_signals=False,
            loop=loop,
            print=lambda *args: None,
        )


def _page(message: str, prefix: str, status: int = 200) -> web.Response:
    text = _LOGIN_PAGE.format(message=message, prefix=prefix)
    return web.Response(text=text, content_type="text/html", status=status)


@cache
def _template() -> jinja2.Template:
    text = files("sloth_tui").joinpath("web/console.html").read_text(encoding="utf-8")
    return jinja2.Environment(autoescape=True).from_string(text)


def _font_size(given: str) -> int:
    """The page's ?fontsize=N (6 to 64), else 16."""
    return int(given) if given.isdigit() and 6 <= int(given) <= 64 else 16


def console_password(given: str | None) -> tuple[str, bool]:
    """(password, made here): the one given, else a new random one."""
    if given:
        return given, False
    return secrets.token_urlsafe(18), True


def announce(options: ServeOptions, made: bool, address: str, with_token: bool) -> None:
    scheme = "https" if options.tls else "http"
    token = " (with the token)" if with_token else ""
    public = f" (browsers open {options.public_url})" if options.public_url else ""
    print(
        f"serving the console of {address}{token} on {scheme}://{options.host}:{options.port}{public}",
        file=sys.stderr,
        flush=True,
    )
    if made:
        print(f"console password: {options.password}", file=sys.stderr, flush=True)


def make_server(command: str, options: ServeOptions) -> Any:
    check_options(options)
    return GuardedServer(command, options, "Sloth Runner")
