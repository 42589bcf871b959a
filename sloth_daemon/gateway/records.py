"""The engine's records as JSON documents and back: what the gateway's RPCs carry.

The master encodes the record its LocalGateway returned; the client builds the same record
type again, so a command prints the same thing whichever way it ran.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, TypeVar

from sloth_engine.errors import LockHeld, SlothError
from sloth_engine.secrets.vault import SecretInfo
from sloth_engine.store.events import EventRecord
from sloth_engine.store.hooks import ExecutionRow, HookDef
from sloth_engine.store.locks import LockGrant, LockInfo
from sloth_engine.store.schedules import ScheduleDef
from sloth_engine.store.state import StateEntry
from sloth_engine.store.tokens import TokenInfo

T = TypeVar("T")


def plain(value: Any) -> Any:
    """A JSON-ready form of a record, a list of records or a plain value."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> bytes:
    return json.dumps(plain(value), ensure_ascii=False, default=str).encode()


def loads(data: bytes) -> Any:
    try:
        return json.loads(data or b"null")
    except ValueError as exc:
        raise SlothError(f"the master answered a document that is not JSON: {exc}") from None


def hook_def(doc: dict[str, Any]) -> HookDef:
    return HookDef(**{**doc, "event_types": tuple(doc.get("event_types") or ())})


def lock_held(doc: dict[str, Any]) -> LockHeld:
    return LockHeld(doc["name"], doc["holder"], doc.get("since"), doc.get("reason") or "")


def held_doc(exc: LockHeld) -> dict[str, Any]:
    return {"name": exc.name, "holder": exc.holder, "since": exc.since, "reason": exc.reason}


def _of(kind: Callable[..., T]) -> Callable[[dict[str, Any]], T]:
    return lambda doc: kind(**doc)


state_entry = _of(StateEntry)
lock_info = _of(LockInfo)
lock_grant = _of(LockGrant)
execution_row = _of(ExecutionRow)
schedule_def = _of(ScheduleDef)
secret_info = _of(SecretInfo)
token_info = _of(TokenInfo)
event_record = _of(EventRecord)
