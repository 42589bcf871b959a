"""`net`: the original's HTTP helpers and downloads.

- `net.http_get(url[, headers])` and `net.http_post(url, body[, headers])` return
  `body, status_code, headers` as in the original; a transport failure returns
  `nil, nil, nil, message`. A table `body` is sent as JSON.
- `net.download(url, dest[, {headers, timeout}])` streams the answer into `dest` (relative to
  the task's workdir; a folder receives the URL's last path element) through a temporary file
  renamed once complete. It returns nil on success and an error message on failure, as in the
  original (`local err = net.download(u, p) if err then ... end`).
- `net.get/post/put/patch/delete/request` are `http`'s functions (see http_mod).

Timeouts default to 30 s for requests and 10 min for downloads, never past the task's own
deadline.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.http_client import Request, download, encode_body, send
from sloth_engine.modules.http_mod import install as install_http
from sloth_engine.modules.options import gather, need, timeout, workdir_path

DOWNLOAD_TIMEOUT = 600.0


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModuleError("net: headers must be a table of name = value")
    return {str(k): str(v) for k, v in value.items()}


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def exchange(request: Request) -> Any:
        try:
            response = send(sandbox, request)
        except ModuleError as exc:
            if sandbox.guard.reason is not None:
                raise
            return None, None, None, str(exc)
        return response.body, response.status_code, response.headers

    def http_get(url: Any = None, headers: Any = None) -> Any:
        return exchange(Request(url=str(url), headers=_headers(headers)))

    def http_post(url: Any = None, body: Any = None, headers: Any = None) -> Any:
        wanted = _headers(headers)
        return exchange(Request(url=str(url), method="POST", body=encode_body(body, wanted), headers=wanted))

    def fetch(*args: Any) -> str | None:
        opts = gather("net.download", args, ("url", "dest"))
        url = need("net.download", opts, "url")
        dest = workdir_path(sandbox, need("net.download", opts, "dest", "path"))
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(urlsplit(url).path) or "index.html")
        request = Request(
            url=url,
            headers=_headers(opts.get("headers")),
            timeout=timeout(opts, DOWNLOAD_TIMEOUT) or DOWNLOAD_TIMEOUT,
        )
        try:
            download(sandbox, request, dest)
        except (ModuleError, OSError) as exc:
            if sandbox.guard.reason is not None:
                raise
            return str(exc)
        return None

    # net.get/post/... are http's functions (reading the global installs http if needed).
    http = sandbox.globals()["http"]
    if http is None:
        install_http(sandbox, env)
        http = sandbox.globals()["http"]
    module = sandbox.set_module(
        "net",
        {"http_get": http_get, "http_post": http_post, "download": fetch},
        blocking={"http_get", "http_post", "download"},
    )
    for name in ("get", "post", "put", "patch", "delete", "head", "request"):
        module[name] = http[name]
