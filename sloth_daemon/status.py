"""The one table between the project's errors and gRPC status codes, both directions."""

from __future__ import annotations

import grpc

import sloth_engine.errors as engine_errors
from sloth_engine.errors import (
    DslError,
    LockHeld,
    NotFound,
    SecretsError,
    SlothError,
    StackError,
    StateValueError,
    StoreError,
    UsageError,
)

from .errors import (
    AgentNotConnected,
    MasterUnavailable,
    NotAuthenticated,
    PermissionDenied,
    Rejected,
)

TO_CODE: tuple[tuple[type[SlothError], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (SecretsError, grpc.StatusCode.FAILED_PRECONDITION),
    (DslError, grpc.StatusCode.INVALID_ARGUMENT),
    (UsageError, grpc.StatusCode.INVALID_ARGUMENT),
    (StateValueError, grpc.StatusCode.INVALID_ARGUMENT),
    (AgentNotConnected, grpc.StatusCode.FAILED_PRECONDITION),
    (Rejected, grpc.StatusCode.FAILED_PRECONDITION),
    (LockHeld, grpc.StatusCode.FAILED_PRECONDITION),
    (StackError, grpc.StatusCode.FAILED_PRECONDITION),
    (MasterUnavailable, grpc.StatusCode.UNAVAILABLE),
    (NotAuthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (StoreError, grpc.StatusCode.INTERNAL),
)
"""Most specific first: the first class an error is an instance of gives its code."""

FROM_CODE: dict[grpc.StatusCode, type[SlothError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: UsageError,
    grpc.StatusCode.FAILED_PRECONDITION: Rejected,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Rejected,
    grpc.StatusCode.ALREADY_EXISTS: Rejected,
    grpc.StatusCode.UNAVAILABLE: MasterUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: MasterUnavailable,
    grpc.StatusCode.UNAUTHENTICATED: NotAuthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


ERROR_CLASS_KEY = "sloth-error-class"
"""Trailing metadata of a failed call: the class of the project's error behind it."""


def code_of(exc: SlothError) -> grpc.StatusCode:
    for kind, code in TO_CODE:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def error_of(code: grpc.StatusCode | None, details: str | None, error_class: str = "") -> SlothError:
    """The project's error for a failed call (what the client raises). `error_class` (the
    master's, from the trailing metadata) keeps a value the master refused (StateValueError)
    from reading as bad usage: only UsageError and DslError are."""
    kind = FROM_CODE.get(code or grpc.StatusCode.UNKNOWN, SlothError)
    if kind is UsageError and error_class and not _is_usage(error_class):
        kind = Rejected
    text = details or (code.name.lower() if code else "call failed")
    if kind is MasterUnavailable:
        text = f"master unavailable: {text}"
    return kind(text)


def _is_usage(name: str) -> bool:
    found = getattr(engine_errors, name, None)
    return isinstance(found, type) and issubclass(found, (UsageError, DslError))
