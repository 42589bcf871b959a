"""Turning tracing on in a process: the OpenTelemetry SDK and its exporters.

Tracing is on when the environment asks for an exporter:
- OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): spans go by OTLP/gRPC
  to that collector, batched (the exporter reads its other OTEL_EXPORTER_OTLP_* settings);
- SLOTH_TRACE_FILE=PATH: every finished span is appended to PATH as one JSON line, at once
  (several processes may share the file; a line is one write). For tests and a quick look.
OTEL_SDK_DISABLED=true turns it off. Otherwise nothing of opentelemetry is imported.

The service name is `sloth-<command>` (sloth-run, sloth-master, sloth-agent, ...) unless
OTEL_SERVICE_NAME says otherwise; OTEL_RESOURCE_ATTRIBUTES adds to the resource.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sloth_engine import tracing

TRACE_FILE = "SLOTH_TRACE_FILE"
SHUTDOWN_WAIT = 3.0
"""Seconds a process waits, as it ends, for its last spans to reach the collector: an
unreachable one delays the end of a command by at most this (those spans are dropped)."""
CARRIER_KEYS = ("traceparent", "tracestate")
"""The W3C headers that carry a trace in gRPC metadata."""


def wanted(env: Mapping[str, str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    keys = (TRACE_FILE, "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return any(env.get(k) for k in keys)


def start(service: str, env: Mapping[str, str] = os.environ) -> Callable[[], None]:
    """Install the SDK's tracer provider with the exporters the environment names and turn the
    engine's spans on; returns what flushes and stops it (call it before the process ends)."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": service}
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if env.get(TRACE_FILE):
        from sloth_daemon.trace_file import JsonLinesExporter  # lazy: the SDK, only for this file

        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(env[TRACE_FILE])))
    trace.set_tracer_provider(provider)
    tracing.enable()

    def stop() -> None:
        flushing = threading.Thread(target=provider.shutdown, name="tracing-shutdown", daemon=True)
        flushing.start()
        flushing.join(SHUTDOWN_WAIT)

    return stop


def metadata() -> list[tuple[str, str]]:
    """The current span's context as gRPC metadata ([] when tracing is off)."""
    return sorted(tracing.carrier().items())


def from_metadata(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, str]:
    """The W3C carrier a call's metadata brought ({} when none)."""
    return {k: str(v) for k, v in pairs or () if k in CARRIER_KEYS}
