"""`notifications`: Slack, ntfy and generic webhooks, as the original's module.

    notifications.slack.send({ webhook_url = url, message = "deploy failed", pipeline = "deploy",
                               error_details = "exit 1" }) -> true | false, message
    notifications.ntfy.send({ server = "https://ntfy.sh", topic = "ops", message = "done",
                              title = "deploy", priority = "high" }) -> true | false, message
    notifications.webhook.send({ url = url, body = { any = "table" }, headers = {...},
                                 method = "POST" }) -> true | false, message

A non-2xx answer or a transport failure is `false, message` (the original's convention), never
a raised error; each request is bounded by `timeout` (seconds, default 10) and by the task's
own deadline. Slack gets the original's payload: the message as text plus an attachment
`Pipeline: *name*` with the error details in a code block (red when there are details,
green otherwise).
"""

from __future__ import annotations

import json
from typing import Any

from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv
from sloth_engine.modules.http_client import Request, encode_body, send

DEFAULT_TIMEOUT = 10.0


def _opts(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModuleError(f"{where}: expected a table of options")
    return value


def _text(opts: dict[str, Any], key: str) -> str:
    value = opts.get(key)
    return "" if value is None else str(value)


def slack_payload(opts: dict[str, Any]) -> dict[str, Any]:
    details = _text(opts, "error_details")
    attachment = f"Pipeline: *{_text(opts, 'pipeline')}*" + (f"\n```{details}```" if details else "")
    return {
        "text": _text(opts, "message"),
        "attachments": [
            {"color": "danger" if details else "good", "text": attachment, "mrkdwn_in": ["text"]}
        ],
    }


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def deliver(where: str, request: Request) -> Any:
        try:
            answer = send(sandbox, request)
        except ModuleError as exc:
            return False, f"{where}: {exc}"
        if not 200 <= answer.status_code < 300:
            return False, f"{where}: the server answered {answer.status_code}: {answer.body[:300]}"
        return True

    def timeout(opts: dict[str, Any]) -> float:
        value = opts.get("timeout")
        return float(value) if isinstance(value, (int, float)) and value > 0 else DEFAULT_TIMEOUT

    def slack(value: Any = None) -> Any:
        opts = _opts(value, "notifications.slack.send")
        url = _text(opts, "webhook_url")
        if not url:
            return False, "Slack webhook_url is required"
        body = json.dumps(slack_payload(opts)).encode()
        headers = {"Content-Type": "application/json"}
        return deliver("slack", Request(url, "POST", body, headers, timeout=timeout(opts)))

    def ntfy(value: Any = None) -> Any:
        opts = _opts(value, "notifications.ntfy.send")
        server, topic = _text(opts, "server").rstrip("/"), _text(opts, "topic")
        if not server or not topic:
            return False, "ntfy server and topic are required"
        headers = {"Content-Type": "text/plain"}
        for key, header in (("title", "Title"), ("priority", "Priority"), ("tags", "Tags")):
            if _text(opts, key):
                headers[header] = _text(opts, key)
        body = _text(opts, "message").encode()
        return deliver("ntfy", Request(f"{server}/{topic}", "POST", body, headers, timeout=timeout(opts)))

    def webhook(value: Any = None) -> Any:
        opts = _opts(value, "notifications.webhook.send")
        url = _text(opts, "url")
        if not url:
            return False, "webhook url is required"
        headers = {str(k): str(v) for k, v in (opts.get("headers") or {}).items()}
        body = encode_body(opts.get("body"), headers)
        method = _text(opts, "method").upper() or "POST"
        return deliver("webhook", Request(url, method, body, headers, timeout=timeout(opts)))

    module = sandbox.set_module("notifications", {})
    for name, fn in (("slack", slack), ("ntfy", ntfy), ("webhook", webhook)):
        module[name] = sandbox.lua.table_from({"send": sandbox.function(fn, blocking=True)})
