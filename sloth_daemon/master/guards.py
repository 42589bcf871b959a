"""Servicer method wrappers: project errors become gRPC statuses, surprises become INTERNAL."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from sloth_daemon.status import ERROR_CLASS_KEY, code_of
from sloth_engine.errors import SlothError

log = logging.getLogger(__name__)


async def _abort(context: Any, fn: Callable[..., Any], exc: Exception) -> None:
    if isinstance(exc, SlothError):
        # the error's class travels too: a client tells bad input (exit 2) from a refusal
        context.set_trailing_metadata(((ERROR_CLASS_KEY, exc.__class__.__name__),))
        await context.abort(code_of(exc), str(exc))
    log.exception("%s failed", fn.__name__)
    # The user sees what went wrong, the master's log keeps the traceback (never a class name).
    await context.abort(grpc.StatusCode.INTERNAL, f"the master could not answer: {exc or 'unexpected error'}")


def unary(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A unary call."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> Any:
        try:
            return await fn(self, request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await _abort(context, fn, exc)

    return wrapper


def streaming(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A server-streaming call."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> AsyncIterator[Any]:
        try:
            async for item in fn(self, request, context):
                yield item
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            await _abort(context, fn, exc)

    return wrapper
