"""The engine's StorePort for a process without a store: every call goes to the master.

An agent gives `remote_port(channel)` to the Lua modules of the tasks it runs; they call it as
they would call a local store, and get the same values and the same errors. Lock waits happen
here, polling `state.try_lock` with jittered backoff (2 ms growing to 50 ms), so a waiting task
holds nothing on the master; leases are renewed from this process (a LeaseKeeper thread)
while the task holds them, and simply run out when this process dies.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from sloth_daemon.store_ops import grant_of, outcome_of, record_of
from sloth_engine.durations import parse_duration
from sloth_engine.errors import LockHeld, SlothError, TaskCancelled, UsageError
from sloth_engine.store.locks import FIRST_POLL_S, MAX_POLL_S, LeaseKeeper, LockGrant, StopCheck
from sloth_engine.store.resources import Origin, ResourceSpec
from sloth_engine.store.stack_records import RegisterOutcome, ResourceRecord
from sloth_engine.store.values import decode, encode
from sloth_engine.store_port import Done, StorePort

Call = Callable[[str, dict[str, Any]], Any]
ACall = Callable[[str, dict[str, Any]], Awaitable[Any]]
Send = Callable[[str, dict[str, Any], Done], None]


class RemoteState:
    def __init__(self, call: Call) -> None:
        self._call = call

    # ---- values -----------------------------------------------------------------------------

    def get(self, namespace: str, key: str, default: Any = None) -> Any:
        found = self._call("state.get", {"ns": namespace, "key": key})
        return default if found is None else decode(found[0], found[1])

    def exists(self, namespace: str, key: str) -> bool:
        return bool(self._call("state.exists", {"ns": namespace, "key": key}))

    def delete(self, namespace: str, key: str) -> bool:
        return bool(self._call("state.delete", {"ns": namespace, "key": key}))

    def keys(self, namespace: str, prefix: str = "") -> list[str]:
        return list(self._call("state.keys", {"ns": namespace, "prefix": prefix}))

    def increment(self, namespace: str, key: str, delta: int | float = 1, owner: str = "") -> int | float:
        args = {"ns": namespace, "key": key, "delta": delta, "owner": owner}
        return self._call("state.increment", args)  # type: ignore[no-any-return]

    def set(
        self, namespace: str, key: str, value: Any, ttl: float | str | None = None, owner: str = ""
    ) -> None:
        if value is None:
            self.delete(namespace, key)
            return
        args = {"ns": namespace, "key": key, "value": list(encode(key, value)), "ttl": ttl, "owner": owner}
        self._call("state.set", args)

    def compare_and_swap(
        self,
        namespace: str,
        key: str,
        expected: Any,
        new: Any,
        ttl: float | str | None = None,
        owner: str = "",
    ) -> bool:
        args = {
            "ns": namespace,
            "key": key,
            "old": None if expected is None else list(encode(key, expected)),
            "new": None if new is None else list(encode(key, new)),
            "ttl": ttl,
            "owner": owner,
        }
        return bool(self._call("state.cas", args))

    # ---- leases -----------------------------------------------------------------------------

    def lock(
        self,
        name: str,
        holder: str,
        ttl: float | str,
        wait: float | str = 0.0,
        reason: str = "",
        stop: StopCheck = None,
    ) -> LockGrant:
        deadline = time.monotonic() + _seconds(wait, "wait")
        delay = FIRST_POLL_S
        args = {"name": name, "holder": holder, "ttl": ttl, "reason": reason}
        while True:
            answer = self._call("state.try_lock", args)
            if "grant" in answer:
                return grant_of(answer["grant"])
            if stop is not None and (why := stop()):
                raise TaskCancelled(why)
            left = deadline - time.monotonic()
            if left <= 0:
                held_by, since, why_held = answer["held"]
                raise LockHeld(name, held_by, since, why_held or "")
            time.sleep(min(delay * (0.75 + random.random() / 2), left))
            delay = min(delay * 1.5, MAX_POLL_S)

    def renew(self, name: str, token: int, ttl: float | str) -> LockGrant | None:
        found = self._call("state.renew", {"name": name, "token": int(token), "ttl": ttl})
        return None if found is None else grant_of(found)

    def unlock(self, name: str, owner: str | int | None = None, force: bool = False) -> bool:
        return bool(self._call("state.unlock", {"name": name, "owner": owner, "force": force}))

    def keep(self, grant: LockGrant, ttl: float | str, stop: StopCheck = None) -> LeaseKeeper:
        """Renew `grant` from a thread of this process until released (or until `stop()`)."""
        seconds = _seconds(ttl, f"ttl of '{grant.name}'")
        if seconds <= 0:
            raise UsageError(f"ttl of '{grant.name}' must be positive, got {ttl!r}")
        return LeaseKeeper(self, grant, seconds, stop)  # type: ignore[arg-type]


class RemoteStacks:
    def __init__(self, call: Call) -> None:
        self._call = call

    def register(
        self, stack: str, spec: ResourceSpec, origin: Origin
    ) -> tuple[RegisterOutcome, ResourceRecord]:
        outcome, record = self._call(
            "stack.register", {"stack": stack, "spec": list(spec), "origin": list(origin)}
        )
        found = record_of(record)
        assert found is not None
        return outcome_of(outcome), found

    def update(self, stack: str, type_: str, name: str, changes: dict[str, Any]) -> ResourceRecord:
        args = {"stack": stack, "type": type_, "name": name, "changes": changes}
        found = record_of(self._call("stack.update", args))
        assert found is not None
        return found

    def get(self, stack: str, type_: str, name: str) -> ResourceRecord | None:
        return record_of(self._call("stack.get", {"stack": stack, "type": type_, "name": name}))

    def find(self, stack: str, name: str) -> ResourceRecord | None:
        return record_of(self._call("stack.find", {"stack": stack, "name": name}))

    def delete(self, stack: str, type_: str, name: str) -> bool:
        return bool(self._call("stack.delete", {"stack": stack, "type": type_, "name": name}))

    def set_output(self, stack: str, key: str, value: Any) -> None:
        self._call("stack.set_output", {"stack": stack, "key": key, "value": value})

    def outputs(self, stack: str) -> dict[str, Any]:
        return dict(self._call("stack.outputs", {"stack": stack}))

    def status(self, stack: str) -> str | None:
        found = self._call("stack.status", {"stack": stack})
        return None if found is None else str(found)


def remote_port(
    call: Call, acall: ACall | None = None, send: Send | None = None, flush: Callable[[], None] | None = None
) -> StorePort:
    """A StorePort whose calls go through `call` (a StoreChannel's `call`, from any thread);
    with `acall` (its `acall`), module functions may also be replayed on its event loop, and
    with `send` and `flush` (its own), chained from the thread running Lua without waiting."""
    caller = _Caller(call, acall)
    replay = caller.replay if acall is not None else None
    chain = _Chained(send, flush) if acall is not None and send is not None and flush is not None else None
    return StorePort(RemoteState(caller), RemoteStacks(caller), blocking=True, replay=replay, chain=chain)


class _NeedCall(BaseException):
    """Raised inside a replay at a call whose answer is not known yet (BaseException: module
    code that catches errors must let it through)."""

    def __init__(self, method: str, args: dict[str, Any]) -> None:
        self.method, self.call_args = method, args


class _Replay:
    def __init__(self) -> None:
        self.answers: list[tuple[bool, Any]] = []
        self.index = 0

    def next(self, method: str, args: dict[str, Any]) -> Any:
        if self.index >= len(self.answers):
            raise _NeedCall(method, args)
        ok, value = self.answers[self.index]
        self.index += 1
        if not ok:
            raise value
        return value


_REPLAY: ContextVar[_Replay | None] = ContextVar("sloth_store_replay", default=None)


class _Caller:
    """The port's calls: blocking from a thread, or answered from a replay's record."""

    def __init__(self, call: Call, acall: ACall | None) -> None:
        self._call, self._acall = call, acall

    def __call__(self, method: str, args: dict[str, Any]) -> Any:
        replaying = _REPLAY.get()
        return self._call(method, args) if replaying is None else replaying.next(method, args)

    async def replay(self, run: Callable[[], Any]) -> Any:
        """Run the synchronous `run()` on the loop, again after each call it needs is awaited
        (its code before the call is pure: checks and encoding, cheap to repeat)."""
        assert self._acall is not None
        record = _Replay()
        while True:
            record.index = 0
            token = _REPLAY.set(record)
            try:
                return run()
            except _NeedCall as need:
                wanted = (need.method, need.call_args)
            finally:
                _REPLAY.reset(token)
            try:
                record.answers.append((True, await self._acall(*wanted)))
            except SlothError as exc:
                record.answers.append((False, exc))


class _Chained:
    """The port's calls sent without waiting (store_port.Chain): the agent's thread running
    Lua sends its tasks' calls and goes on; answers come back on the channel's loop."""

    def __init__(self, send: Send, flush: Callable[[], None]) -> None:
        self._send = send
        self.flush = flush

    def send(self, run: Callable[[], Any], done: Done) -> None:
        """Run the synchronous `run()` now, and again (where the answer arrives) after each call
        it needs is answered; `done(value, error)` gets its end. Nothing waits for the master."""
        send = self._send
        record = _Replay()

        def attempt() -> None:
            record.index = 0
            token = _REPLAY.set(record)
            need: _NeedCall | None = None
            try:
                value = run()
            except _NeedCall as wanted:
                need = wanted
            except BaseException as exc:  # handed on, as an awaited replay would raise it
                _REPLAY.reset(token)
                done(None, exc)
                return
            _REPLAY.reset(token)
            if need is None:
                done(value, None)
            else:
                send(need.method, need.call_args, answered)

        def answered(value: Any, error: BaseException | None) -> None:
            if error is None:
                record.answers.append((True, value))
            elif isinstance(error, SlothError):
                record.answers.append((False, error))
            else:
                done(None, error)
                return
            attempt()

        attempt()


def _seconds(value: float | str, what: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
