"""`http`: HTTP requests (httpx) answered as a table.

`http.get(url[, opts])`, `http.delete(url[, opts])`, `http.post(url, body[, opts])`,
`http.put(...)`, `http.patch(...)`, and `http.request{method, url, body, headers, timeout}`;
each also takes one table (`http.post({url = u, body = b})`). Options: `headers` (table),
`timeout` (seconds or "10s", default 30 s, never past the task's own deadline), `params`
(query string table), `json` (a table sent as JSON), `follow_redirects` (default true),
`insecure = true` (skip TLS verification). A table `body` is sent as JSON.

The answer is `{status_code, status, body, headers, json, ok, url}`: `json` is the decoded body
when it is JSON (else nil), `ok` is a 2xx status, header names are lower case. A status of 4xx
or 5xx is an answer, not an error; a transport failure (refused, timed out, bad TLS) returns
`nil, message`. Answers larger than 16 MiB are refused: use `net.download`.
"""

from __future__ import annotations

from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.http_client import DEFAULT_TIMEOUT, Request, encode_body, send
from sloth_engine.modules.options import flag, gather, need, timeout

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def build_request(where: str, opts: dict[str, Any], method: str | None = None) -> Request:
    """A Request from a module call's options."""
    verb = (method or str(opts.get("method") or "GET")).upper()
    if verb not in METHODS:
        raise ModuleError(f"{where}: unsupported method {verb!r}")
    headers = opts.get("headers") or {}
    if not isinstance(headers, dict):
        raise ModuleError(f"{where}: headers must be a table of name = value")
    headers = {str(k): str(v) for k, v in headers.items()}
    body = opts.get("json") if opts.get("json") is not None else opts.get("body")
    params = opts.get("params") or opts.get("query")
    if params is not None and not isinstance(params, dict):
        raise ModuleError(f"{where}: params must be a table of name = value")
    return Request(
        url=need(where, opts, "url"),
        method=verb,
        body=encode_body(body, headers),
        headers=headers,
        params={str(k): str(v) for k, v in params.items()} if params else None,
        timeout=timeout(opts, DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT,
        follow_redirects=flag(opts, "follow_redirects", True),
        verify=not flag(opts, "insecure"),
    )


OPTION_NAMES = frozenset(
    {"url", "body", "json", "headers", "timeout", "params", "query", "follow_redirects", "insecure"}
)


def _is_body(value: Any) -> bool:
    """`http.post(url, {name = "x"})`: a table without option names is the JSON body."""
    return isinstance(value, list) or (isinstance(value, dict) and not OPTION_NAMES & value.keys())


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def answer(where: str, opts: dict[str, Any], method: str | None) -> Any:
        request = build_request(where, opts, method)
        try:
            return send(sandbox, request).as_table()
        except ModuleError as exc:
            if sandbox.guard.reason is not None:
                raise  # the task was stopped: not an answer
            return None, str(exc)

    def without_body(method: str) -> Any:
        def call(*args: Any) -> Any:
            return answer(f"http.{method.lower()}", gather(f"http.{method.lower()}", args, ("url",)), method)

        return call

    def with_body(method: str) -> Any:
        def call(*args: Any) -> Any:
            where = f"http.{method.lower()}"
            if len(args) == 2 and isinstance(args[0], str) and _is_body(args[1]):
                return answer(where, {"url": args[0], "body": args[1]}, method)
            return answer(where, gather(where, args, ("url", "body")), method)

        return call

    def request(*args: Any) -> Any:
        return answer("http.request", gather("http.request", args, ("method", "url")), None)

    functions = {
        "get": without_body("GET"),
        "delete": without_body("DELETE"),
        "head": without_body("HEAD"),
        "post": with_body("POST"),
        "put": with_body("PUT"),
        "patch": with_body("PATCH"),
        "request": request,
    }
    sandbox.set_module("http", functions, blocking=frozenset(functions))
