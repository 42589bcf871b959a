"""State and stack calls on the wire (`StoreCall`): the master runs them, agents send them.

Each call is a method name and JSON arguments. Values travel as the store keeps them (JSON
text plus a type tag), so a Lua table with integer keys or a float such as 1.0 arrives with
its type. An error travels as its class name, message and context, and is raised again on
the caller's side as the same class with the same message: a task sees the same Lua error on
an agent as in a local run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sloth_engine import errors as e
from sloth_engine.store.locks import LockGrant, LockInfo
from sloth_engine.store.resources import Origin, ResourceSpec
from sloth_engine.store.stack_records import RegisterOutcome, ResourceRecord
from sloth_engine.store.values import Encoded, encode
from sloth_engine.store_port import StorePort

_ABSENT = object()

Op = Callable[[StorePort, dict[str, Any]], Any]


def _get(port: StorePort, a: dict[str, Any]) -> Any:
    value = port.state.get(a["ns"], a["key"], _ABSENT)
    return None if value is _ABSENT else list(encode(a["key"], value))


def _encoded(item: Any) -> Encoded | None:
    return None if item is None else Encoded(str(item[0]), item[1])


def _set(port: StorePort, a: dict[str, Any]) -> None:
    port.state.set(a["ns"], a["key"], _encoded(a["value"]), ttl=a.get("ttl"), owner=a.get("owner", ""))


def _cas(port: StorePort, a: dict[str, Any]) -> bool:
    old, new = _encoded(a.get("old")), _encoded(a.get("new"))
    return port.state.compare_and_swap(a["ns"], a["key"], old, new, a.get("ttl"), a.get("owner", ""))


def _try_lock(port: StorePort, a: dict[str, Any]) -> Any:
    """One attempt, never a wait: the agent waits (a master thread must not sleep on a lock)."""
    try:
        grant = port.state.lock(a["name"], a["holder"], a["ttl"], 0.0, a.get("reason", ""))
    except e.LockHeld as exc:
        return {"held": [exc.holder, exc.since, exc.reason]}
    return {"grant": list(grant)}


def _renew(port: StorePort, a: dict[str, Any]) -> Any:
    grant = port.state.renew(a["name"], int(a["token"]), a["ttl"])
    return None if grant is None else list(grant)


def _register(port: StorePort, a: dict[str, Any]) -> Any:
    outcome, record = port.stacks.register(a["stack"], ResourceSpec(*a["spec"]), Origin(*a["origin"]))
    return [outcome.value, record._asdict()]


def _record(record: ResourceRecord | None) -> Any:
    return None if record is None else record._asdict()


OPS: dict[str, Op] = {
    "state.get": _get,
    "state.exists": lambda p, a: p.state.exists(a["ns"], a["key"]),
    "state.delete": lambda p, a: p.state.delete(a["ns"], a["key"]),
    "state.keys": lambda p, a: p.state.keys(a["ns"], a.get("prefix", "")),
    "state.increment": lambda p, a: p.state.increment(a["ns"], a["key"], a["delta"], a.get("owner", "")),
    "state.set": _set,
    "state.cas": _cas,
    "state.try_lock": _try_lock,
    "state.renew": _renew,
    "state.unlock": lambda p, a: p.state.unlock(a["name"], a.get("owner"), bool(a.get("force"))),
    "stack.register": _register,
    "stack.update": lambda p, a: _record(p.stacks.update(a["stack"], a["type"], a["name"], a["changes"])),
    "stack.get": lambda p, a: _record(p.stacks.get(a["stack"], a["type"], a["name"])),
    "stack.find": lambda p, a: _record(p.stacks.find(a["stack"], a["name"])),
    "stack.delete": lambda p, a: p.stacks.delete(a["stack"], a["type"], a["name"]),
    "stack.set_output": lambda p, a: p.stacks.set_output(a["stack"], a["key"], a.get("value")),
    "stack.outputs": lambda p, a: p.stacks.outputs(a["stack"]),
    "stack.status": lambda p, a: p.stacks.status(a["stack"]),
}


# ---- results --------------------------------------------------------------------------------


def grant_of(item: Any) -> LockGrant:
    return LockGrant(str(item[0]), str(item[1]), int(item[2]), float(item[3]))


def held_of(name: str, item: Any) -> LockInfo:
    holder, since, reason = item
    return LockInfo(name, str(holder), 0, float(since or 0.0), 0.0, str(reason or ""))


def record_of(item: Any) -> ResourceRecord | None:
    return None if item is None else ResourceRecord(**item)


def outcome_of(value: str) -> RegisterOutcome:
    return RegisterOutcome(value)


# ---- errors ---------------------------------------------------------------------------------


def error_to_wire(exc: BaseException) -> tuple[str, str, bytes]:
    """(class name, message, context JSON) of an error raised by a store call."""
    attrs: dict[str, Any] = {}
    if isinstance(exc, e.LockHeld):
        attrs = {"name": exc.name, "holder": exc.holder, "since": exc.since, "reason": exc.reason}
        if isinstance(exc, e.StackLocked):
            attrs["name"] = exc.stack
    elif isinstance(exc, e.StateValueError):
        attrs = {"key": exc.key, "reason": exc.reason, "namespace": exc.namespace}
    if isinstance(exc, e.SlothError):
        return type(exc).__name__, str(exc), json.dumps(attrs, default=str).encode()
    return "internal", f"the master failed on this call: {exc.__class__.__name__}: {exc}", b""


_PLAIN: dict[str, type[e.SlothError]] = {
    cls.__name__: cls
    for cls in (
        e.UsageError,
        e.StoreError,
        e.SchemaTooNew,
        e.NotFound,
        e.SecretsError,
        e.StackError,
        e.TaskCancelled,
        e.SlothError,
    )
}


def error_from_wire(kind: str, message: str, attrs_json: bytes) -> e.SlothError:
    """The error the master raised, as the same class with the same message."""
    attrs = json.loads(attrs_json) if attrs_json else {}
    if kind == "LockHeld":
        return e.LockHeld(attrs["name"], attrs["holder"], attrs.get("since"), attrs.get("reason") or "")
    if kind == "StackLocked":
        return e.StackLocked(attrs["name"], attrs["holder"], attrs.get("since"), attrs.get("reason") or "")
    if kind == "StateValueError":
        return e.StateValueError(attrs["key"], attrs["reason"], attrs.get("namespace"))
    cls = _PLAIN.get(kind, e.StoreError)
    return cls(message)
