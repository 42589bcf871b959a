"""Tracing with OpenTelemetry across real processes: spans are written by each process's SDK
(SLOTH_TRACE_FILE: one JSON line per finished span, sloth_daemon/tracing.py) or sent to an
OTLP collector (OTEL_EXPORTER_OTLP_ENDPOINT), and read back here.

A delegated run submitted with --master is one trace: the client's span at the root, the
master's run span under it, an attempt span per attempt under that, and the agent's span
under each attempt it ran. Tracing off imports nothing of opentelemetry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from distributed_cluster import Cluster, wait_for

HELLO = str(Path(__file__).resolve().parent.parent / "examples" / "hello_world.sloth")

DELEGATED = """
local a = task("a"):command(function() return true, "made", { v = 1 } end):delegate_to("alpha")
local flaky = task("flaky"):depends_on({ "a" })
  :command("test -f MARKER || { touch MARKER; exit 1; }")
  :retries(1)
  :delegate_to({ tags = { role = "build" } })
local last = task("last"):depends_on({ "flaky" }):command(function() return true, "done" end)
workflow.define("traced"):tasks({ a, flaky, last }):config({ retry_delay = "10ms" })
"""


def _spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "SLOTH_TRACE_FILE"}
    env.update(extra)
    return env


def _run(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = _clean_env(SLOTH_HOME=str(home), **extra)
    env.pop("SLOTH_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "sloth_daemon.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_local_run_has_a_run_span_and_an_attempt_span_per_task(tmp_path: Path) -> None:
    spans_file = tmp_path / "spans.jsonl"
    done = _run(tmp_path / "home", "run", HELLO, SLOTH_TRACE_FILE=str(spans_file))
    assert done.returncode == 0, done.stderr
    spans = _spans(spans_file)
    [run] = [s for s in spans if s["name"] == "sloth.run"]
    attempts = sorted((s for s in spans if s["name"] == "sloth.attempt"), key=lambda s: s["start_ns"])
    assert run["parent_span_id"] is None and run["service"] == "sloth-run"
    assert run["attributes"]["sloth.workflow"] == "hello_world"
    assert run["attributes"]["sloth.status"] == "success"
    assert [a["attributes"]["sloth.task"] for a in attempts] == ["greet", "wave"]
    for attempt in attempts:
        assert attempt["parent_span_id"] == run["span_id"] and attempt["trace_id"] == run["trace_id"]
        assert attempt["attributes"]["sloth.status"] == "success"
        assert attempt["attributes"]["sloth.run_id"] == run["attributes"]["sloth.run_id"]


@pytest.fixture
def traced_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SLOTH_TRACE_FILE", str(tmp_path / "spans.jsonl"))
    c = Cluster(tmp_path)
    try:
        c.start_master()
        c.start_agent("alpha", "role=build")
        yield c
    finally:
        c.close()


def test_a_delegated_run_is_one_trace_from_the_client_to_the_agent(traced_cluster: Cluster) -> None:
    cluster = traced_cluster
    marker = cluster.root / "flaky-once"
    wf = cluster.write("traced.sloth", DELEGATED.replace("MARKER", str(marker)))
    done = cluster.cli("run", str(wf), "--master", cluster.address)
    assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()

    spans_file = cluster.root / "spans.jsonl"

    def all_spans() -> list[dict[str, Any]] | None:
        spans = _spans(spans_file)
        names = [s["name"] for s in spans]
        # the master's run span ends after the client saw the run end: wait for it
        return spans if "sloth.run" in names and "sloth.client.run" in names else None

    spans = wait_for(all_spans, 20, "the run's spans")
    [client] = [s for s in spans if s["name"] == "sloth.client.run"]
    [run] = [s for s in spans if s["name"] == "sloth.run"]
    attempts = {
        (s["attributes"]["sloth.task"], s["attributes"]["sloth.attempt"]): s
        for s in spans
        if s["name"] == "sloth.attempt"
    }
    on_agent = {
        (s["attributes"]["sloth.task"], s["attributes"]["sloth.attempt"]): s
        for s in spans
        if s["name"] == "sloth.agent.attempt"
    }

    assert client["parent_span_id"] is None and client["service"] == "sloth-run"
    assert client["attributes"]["sloth.status"] == "success"
    assert run["parent_span_id"] == client["span_id"] and run["service"] == "sloth-master"
    assert run["attributes"]["sloth.workflow"] == "traced"
    assert run["attributes"]["sloth.status"] == "success"
    assert sorted(attempts) == [("a", 1), ("flaky", 1), ("flaky", 2), ("last", 1)]
    for attempt in attempts.values():
        assert attempt["parent_span_id"] == run["span_id"] and attempt["service"] == "sloth-master"
    assert attempts[("flaky", 1)]["attributes"]["sloth.status"] == "failed"
    assert attempts[("flaky", 1)]["status"] == "ERROR"
    assert attempts[("flaky", 2)]["attributes"]["sloth.status"] == "success"
    assert attempts[("a", 1)]["attributes"]["sloth.agent"] == "alpha"

    # the agent's spans: one per attempt it ran, each a child of the master's attempt span
    assert sorted(on_agent) == [("a", 1), ("flaky", 1), ("flaky", 2)]
    for key, span in on_agent.items():
        assert span["parent_span_id"] == attempts[key]["span_id"], key
        assert span["service"] == "sloth-agent"
        assert span["attributes"]["sloth.agent"] == "alpha"
        assert span["attributes"]["sloth.workflow"] == "traced"
        assert span["attributes"]["sloth.run_id"] == run["attributes"]["sloth.run_id"]
    assert on_agent[("flaky", 1)]["attributes"]["sloth.status"] == "failed"
    assert on_agent[("flaky", 2)]["attributes"]["sloth.status"] == "success"
    assert {s["trace_id"] for s in spans} == {client["trace_id"]}


def test_tracing_off_imports_nothing_of_opentelemetry(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from sloth_daemon.cli.main import main\n"
        f"code = main(['run', {HELLO!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = _clean_env(SLOTH_HOME=str(tmp_path / "home"))
    off = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert off.returncode == 0, off.stderr
    assert off.stdout.splitlines()[-1] == "0 []"
    env["SLOTH_TRACE_FILE"] = str(tmp_path / "spans.jsonl")
    on = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert on.returncode == 0 and "opentelemetry.sdk.trace" in on.stdout.splitlines()[-1], on.stderr


class Collector:
    """An OTLP/gRPC trace collector on 127.0.0.1: keeps what it is sent."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        self.received: list[Any] = []
        self.arrived = threading.Event()
        collector = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
                collector.received.append(request)
                collector.arrived.set()
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def spans(self) -> list[tuple[str, str]]:
        """(service.name, span name) of every span received."""
        found = []
        for request in self.received:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    found += [(attributes.get("service.name", ""), s.name) for s in scope.spans]
        return found


def test_spans_go_to_the_otlp_collector_the_environment_names(tmp_path: Path) -> None:
    collector = Collector()
    try:
        endpoint = f"http://127.0.0.1:{collector.port}"
        done = _run(tmp_path / "home", "run", HELLO, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
        assert done.returncode == 0, done.stderr
        # the process flushes its batch before it exits: the spans are there already
        assert sorted(collector.spans()) == [
            ("sloth-run", "sloth.attempt"),
            ("sloth-run", "sloth.attempt"),
            ("sloth-run", "sloth.run"),
        ]
    finally:
        collector.server.stop(0)


def test_an_unreachable_collector_does_not_fail_the_run(tmp_path: Path) -> None:
    done = _run(tmp_path / "home", "run", HELLO, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
