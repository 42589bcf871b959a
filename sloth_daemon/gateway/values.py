"""Small answers of the gateway (sloth_daemon.gateway.api) that are not the engine's records.

Kept apart from api.py so the client (and the console through it) loads them without the
store's modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Check = tuple[str, str, str]
"""A health check: (name, 'ok' | 'warn' | 'fail' | 'skip', detail)."""


@dataclass(frozen=True)
class Found:
    """A state value, or none (`found` False): a key may not be missing and hold null."""

    found: bool
    value: Any = None


@dataclass(frozen=True)
class Unlocked:
    released: bool
    held: Any
    """The lock (a LockInfo) as it was before the call; None: it was not held."""


@dataclass(frozen=True)
class HookShow:
    hook: Any
    """HookDef"""
    recent: list[dict[str, Any]]


@dataclass(frozen=True)
class Fired:
    """A schedule fired now: on a master, the runs it started; here, the run's exit code."""

    run_ids: list[str]
    exit_code: int = 0


@dataclass
class Retried:
    """`runs retry`: through a master, the new run it started (`planned`: PlannedRun, to
    follow); here, the new run to execute in this process (`local`: its RunRequest, loaded
    file, WorkflowSpec and the Resume of sloth_engine.retry). `warning`: to show first."""

    planned: list[Any] = field(default_factory=list)
    local: tuple[Any, Any, Any, Any] | None = None
    warning: str = ""
