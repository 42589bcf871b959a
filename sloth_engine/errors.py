"""The error hierarchy shared by every layer.

Each error carries its context as attributes so that the CLI, the gRPC layer and the
console can render it without parsing messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sloth_engine.spec import RunStatus


class SlothError(Exception):
    """Root of every error Sloth Runner raises on purpose."""


class UsageError(SlothError):
    """Bad command-line usage or bad input given by the operator."""


class DslError(SlothError):
    """A workflow file that cannot be loaded: syntax, unknown method, bad value."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"


class CycleError(DslError):
    """The task dependencies of a workflow form a cycle."""

    def __init__(
        self, cycle: list[str], path: str | None = None, workflow: str = "", line: int | None = None
    ) -> None:
        self.cycle = cycle
        self.workflow = workflow
        message = f"dependency cycle in workflow '{workflow}': " + " -> ".join(cycle)
        super().__init__(message, path, line)


class TaskCancelled(SlothError):
    """A task was cancelled (Ctrl-C, run cancel, workflow timeout)."""


class StoreError(SlothError):
    """The store cannot be opened, migrated or written."""


class StoreUnavailable(StoreError):
    """A failure that may pass: the connection dropped, a failover, a lock timeout, a full disk.
    The same idempotent write is retried on a fresh connection (sloth_engine.store.retry)."""


class SchemaMissing(StoreError):
    """The database has no Sloth Runner schema (empty, or another program's database)."""


class SchemaTooNew(StoreError):
    """The database was written by a newer Sloth Runner."""


class RunTransitionRefused(SlothError):
    """A run cannot go from the state it is in to the one asked (it ended already, or there
    is no such run): sloth_engine.spec.RUN_TRANSITIONS."""

    def __init__(self, run_id: str, current: RunStatus | None, wanted: RunStatus) -> None:
        self.run_id, self.current, self.wanted = run_id, current, wanted
        if current is None:
            text = f"no run {run_id} to end {wanted}" if wanted.finished else f"no run {run_id}"
        elif not current.finished and not wanted.finished:
            text = f"run {run_id} has started already"
        else:
            text = f"run {run_id} has already finished ({current}); it cannot become {wanted}"
        super().__init__(text)


class LockHeld(SlothError):
    """A lock is held by someone else."""

    def __init__(self, name: str, holder: str, since: float | None = None, reason: str = "") -> None:
        self.name = name
        self.holder = holder
        self.since = since
        self.reason = reason
        text = f"lock '{name}' is held by {holder}"
        if reason:
            text += f" ({reason})"
        super().__init__(text)


class LuaRuntimeError(SlothError):
    """An error raised by Lua code at run time, with the place it came from."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.final = False
        """A configuration error (ConfigurationError) ended the call: retrying cannot help."""
        super().__init__(message)

    @property
    def where(self) -> str:
        """The message prefixed with `file:line: ` when the place is known."""
        if self.path and self.line:
            return f"{self.path}:{self.line}: {self.message}"
        return self.message


class ConfigurationError(SlothError):
    """The task cannot work where it runs (a module without a store, a secret not granted,
    delegated tasks without a master): the attempt fails at once and is never retried."""


class StateValueError(SlothError):
    """A value that cannot be stored under a state key: its type, a cycle or its size."""

    def __init__(self, key: str, reason: str, namespace: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.namespace = namespace
        super().__init__(f"state key '{key}': {reason}")


class NotFound(SlothError):
    """A named thing that does not exist: a run, an agent, a hook, a schedule, a secret, an event."""


class SecretsError(SlothError):
    """Secrets cannot be read or written: no key given, a wrong passphrase, a damaged value."""


class StackError(SlothError):
    """A stack operation that cannot be done: a missing stack or snapshot, a bad request."""


class StackLocked(LockHeld):
    """A stack's lock is held by someone else: names the holder, the reason and since when."""

    def __init__(self, stack: str, holder: str, since: float | None = None, reason: str = "") -> None:
        super().__init__(stack, holder, since, reason)
        self.stack = stack
        text = f"stack '{stack}' is locked by {holder}"
        if since:
            import time

            text += " since " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
        if reason:
            text += f": {reason}"
        self.args = (text,)


class StackValidationFailed(StackError):
    """`validate_before`: the checks of a stack failed; `problems` lists them."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        super().__init__(f"stack '{stack}' failed validation: " + "; ".join(problems))
