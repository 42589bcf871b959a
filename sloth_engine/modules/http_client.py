"""HTTP for the modules (`http`, `net`, `infra_test.http_status`) through httpx.

Runs on the worker thread of a blocking module call. Bodies are streamed and the task's guard
is checked between chunks; every wait is bounded by the request's timeout and by the task's
own deadline, whichever comes first. httpx is imported on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from sloth_engine.lua.limits import MAX_READ_BYTES
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules.atomic_write import DEFAULT_MODE

DEFAULT_TIMEOUT = 30.0
MAX_BODY = MAX_READ_BYTES
"""Larger answers belong in a file: net.download."""
CHUNK = 64 * 1024


@dataclass
class Request:
    url: str
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    timeout: float = DEFAULT_TIMEOUT
    follow_redirects: bool = True
    verify: bool = True


@dataclass
class Response:
    status_code: int
    body: str
    headers: dict[str, str]
    url: str

    def as_table(self) -> dict[str, Any]:
        """{status_code, status, body, headers, json, ok, url}: json is nil unless the body is JSON."""
        return {
            "status_code": self.status_code,
            "status": self.status_code,
            "body": self.body,
            "headers": self.headers,
            "json": self.json(),
            "ok": 200 <= self.status_code < 300,
            "url": self.url,
        }

    def json(self) -> Any:
        if not self.body or self.body.lstrip()[:1] not in ("{", "["):
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    """A string goes as is; a table goes as JSON (and sets Content-Type when not given)."""
    if body is None:
        return None
    if isinstance(body, (dict, list)):
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        return json.dumps(body, ensure_ascii=False).encode()
    if isinstance(body, bool):
        return b"true" if body else b"false"
    return str(body).encode()


def _timeout(sandbox: Sandbox, wanted: float) -> float:
    deadline = sandbox.guard.deadline
    if deadline is None:
        return wanted
    return max(0.05, min(wanted, deadline - time.monotonic()))


def _check(sandbox: Sandbox) -> None:
    reason = sandbox.guard.check()
    if reason is not None:
        raise ModuleError(reason)


def send(sandbox: Sandbox, request: Request) -> Response:
    """Send the request and read the whole answer; transport failures raise ModuleError."""
    import httpx

    limit = _timeout(sandbox, request.timeout)
    try:
        with (
            httpx.Client(
                timeout=limit, follow_redirects=request.follow_redirects, verify=request.verify
            ) as client,
            client.stream(
                request.method,
                request.url,
                content=request.body,
                headers=request.headers,
                params=request.params,
            ) as answer,
        ):
            chunks, size = [], 0
            for chunk in answer.iter_bytes(CHUNK):
                _check(sandbox)
                size += len(chunk)
                if size > MAX_BODY:
                    raise ModuleError(
                        f"{request.method} {request.url}: the answer is larger than "
                        f"{MAX_BODY // (1024 * 1024)} MB (use net.download)"
                    )
                chunks.append(chunk)
            encoding = answer.encoding or "utf-8"
            body = b"".join(chunks).decode(encoding, "replace")
            headers = {k.lower(): v for k, v in answer.headers.items()}
            return Response(answer.status_code, body, headers, str(answer.url))
    except httpx.HTTPError as exc:
        raise ModuleError(f"{request.method} {request.url}: {_reason(exc)}") from None


def download(sandbox: Sandbox, request: Request, dest: str) -> tuple[int, int]:
    """Stream the answer into `dest` through a temporary file renamed once complete;
    (status, bytes). A status other than 2xx is an error and leaves `dest` untouched."""
    import httpx

    limit = _timeout(sandbox, request.timeout)
    folder = os.path.dirname(dest) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(dest)}.", suffix=".part")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            httpx.Client(
                timeout=limit, follow_redirects=request.follow_redirects, verify=request.verify
            ) as client,
            client.stream(request.method, request.url, headers=request.headers) as answer,
        ):
            if not 200 <= answer.status_code < 300:
                raise ModuleError(f"download {request.url}: HTTP {answer.status_code}")
            size = 0
            for chunk in answer.iter_bytes(CHUNK):
                _check(sandbox)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, DEFAULT_MODE)
        os.replace(temp, dest)
        return answer.status_code, size
    except httpx.HTTPError as exc:
        raise ModuleError(f"download {request.url}: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    if "Timeout" in name:
        return f"timed out ({text})" if text else "timed out"
    return f"{name}: {text}" if text else name
