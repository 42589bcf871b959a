"""Prometheus `/metrics` of a master: agents by status, tasks dispatched, heartbeats, runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sloth_daemon.master.registry import LAG_BUCKETS
from sloth_engine.errors import UsageError
from sloth_engine.workflow_metrics import WorkflowMetrics

FINISHED_TASK = ("task.completed", "task.failed", "task.timeout", "task.cancelled")
RUN_ENDS = ("workflow.completed", "workflow.failed", "workflow.cancelled")


class RunMetrics:
    """A run listener for every run the master executes: the workflows' own metrics
    (`metrics.counter/gauge/histogram`, as sloth_workflow_*) and task durations and finished
    runs by workflow and status."""

    def __init__(self) -> None:
        self.workflow = WorkflowMetrics(prefix="sloth_workflow_")
        self.engine = WorkflowMetrics()

    def listen(self, event: Any) -> None:
        self.workflow.listen(event)
        if event.kind in FINISHED_TASK and "duration_s" in event.data:
            sample = {
                "name": "sloth_task_duration_seconds",
                "kind": "histogram",
                "value": event.data["duration_s"],
                "labels": {"status": event.status},
            }
            self.engine.record(sample, event.workflow)
        elif event.kind in RUN_ENDS:
            sample = {
                "name": "sloth_runs_finished",
                "kind": "counter",
                "value": 1,
                "labels": {"status": event.status},
            }
            self.engine.record(sample, event.workflow)


def serve_metrics(listen: str, registry: Any, dispatcher: Any, runs: Any) -> tuple[str, int]:
    """Start the HTTP exporter on a thread; the bound (host, port)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    class MasterCollector:
        def collect(self) -> Iterator[Any]:
            sessions = list(registry.agents.values())
            agents = GaugeMetricFamily(
                "sloth_agents", "Agents known to the master, by status", labels=["status"]
            )
            counts: dict[str, int] = {}
            for session in sessions:
                counts[session.status.value] = counts.get(session.status.value, 0) + 1
            for status, count in sorted(counts.items()):
                agents.add_metric([status], count)
            yield agents
            yield GaugeMetricFamily(
                "sloth_agent_tasks_running",
                "Tasks running on agents",
                value=sum(len(s.pending) for s in sessions),
            )
            yield CounterMetricFamily(
                "sloth_tasks_dispatched", "Task attempts sent to agents", value=dispatcher.dispatched
            )
            yield CounterMetricFamily(
                "sloth_agent_heartbeats", "Heartbeats received", value=registry.heartbeats
            )
            yield CounterMetricFamily(
                "sloth_agent_registrations", "Registrations", value=registry.registrations
            )
            lags, total = list(registry.lag_counts), 0
            buckets = []
            for bound, count in zip((*LAG_BUCKETS, float("inf")), lags, strict=True):
                total += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), total))
            yield HistogramMetricFamily(
                "sloth_heartbeat_lag_seconds",
                "From an agent sending a heartbeat to the master handling it",
                buckets=buckets,
                sum_value=registry.lag_sum,
            )
            active = sum(1 for a in list(runs.active.values()) if a.result is None)
            yield GaugeMetricFamily("sloth_runs_active", "Runs in progress on this master", value=active)

    host, port = split_listen(listen, "0.0.0.0")
    collectors = CollectorRegistry()
    collectors.register(MasterCollector())  # type: ignore[arg-type]
    run_metrics = getattr(runs, "run_metrics", None)
    if run_metrics is not None:
        collectors.register(run_metrics.workflow)  # type: ignore[arg-type]
        collectors.register(run_metrics.engine)  # type: ignore[arg-type]
    server, _thread = start_http_server(port, addr=host, registry=collectors)
    return host, server.server_port


def split_listen(listen: str, default_host: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep:
        host, port = "", listen
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"listen address must be HOST:PORT, got '{listen}'") from None
    return host.strip("[]") or default_host, number
