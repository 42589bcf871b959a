"""Spans (OpenTelemetry) for runs and task attempts, when the process turned tracing on.

Off by default, and then free: nothing of opentelemetry is imported and `span()` hands back
one shared no-op. A daemon entry point that sets up the SDK (sloth_daemon/tracing.py, when
OTEL_EXPORTER_OTLP_ENDPOINT or SLOTH_TRACE_FILE is set) calls `enable()`; from then on the
engine uses opentelemetry-api only (the SDK, exporters and their set-up stay in the daemon).

Trace context crosses processes as a W3C carrier, a dict like `{"traceparent": "00-...-01"}`:
`carrier()` of the current span, given back as `span(..., parent=carrier)` on the other side.
Attributes: `sloth.workflow`, `sloth.run_id`, `sloth.task`, `sloth.attempt`, `sloth.agent`,
`sloth.status`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

TRACER = "sloth_runner"
_enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


class Span:
    """What a `with span(...)` gives: set attributes, and say how it ended."""

    def __init__(self, otel: Any = None) -> None:
        self.otel = otel

    def set(self, key: str, value: Any) -> None:
        if self.otel is not None and value not in (None, ""):
            self.otel.set_attribute(key, value)

    def ended(self, status: str, ok: bool, agent: str = "") -> None:
        """The run's or attempt's status (`sloth.status`); not ok marks the span an error."""
        if self.otel is None:
            return
        self.set("sloth.status", status)
        self.set("sloth.agent", agent)
        if not ok:
            from opentelemetry.trace import Status, StatusCode

            self.otel.set_status(Status(StatusCode.ERROR, status))


_OFF: AbstractContextManager[Span] = nullcontext(Span())


def span(
    name: str, parent: Mapping[str, str] | None = None, **attributes: Any
) -> AbstractContextManager[Span]:
    """A span, current inside the `with` (tasks started inside are its children): child of
    the `parent` carrier when one is given, else of the current span. A no-op when off."""
    if not _enabled:
        return _OFF
    return _live(name, parent, attributes)


@contextmanager
def _live(name: str, parent: Mapping[str, str] | None, attributes: dict[str, Any]) -> Iterator[Span]:
    from opentelemetry import propagate, trace

    context = propagate.extract(dict(parent)) if parent else None
    given = {k.replace("_", ".", 1): v for k, v in attributes.items() if v not in (None, "")}
    with trace.get_tracer(TRACER).start_as_current_span(name, context=context, attributes=given) as otel:
        yield Span(otel)


def carrier() -> dict[str, str]:
    """The current span's W3C trace context (`traceparent`, `tracestate`), {} when off."""
    if not _enabled:
        return {}
    from opentelemetry import propagate

    found: dict[str, str] = {}
    propagate.inject(found)
    return found
