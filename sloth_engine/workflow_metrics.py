"""Metrics recorded by workflows (`metrics.counter/gauge/histogram`), gathered for Prometheus.

The `metrics` module does not keep anything: each call becomes a `metric.recorded` event of
the run, so it reaches the run's listeners (`RunRequest.listeners`, a master's run service),
the events table of the store, and hooks, like every other event. Its data is

    {"name": "deploys", "kind": "counter" | "gauge" | "histogram", "value": 1.0,
     "labels": {"env": "prod"}, "task": "deploy", "buckets": [...]}   # buckets: histograms only

`WorkflowMetrics` adds such events up: feed it as a listener (`metrics.listen(event)` takes a
RunEvent), or event data one by one (`metrics.record(data, workflow)`), then either render
the text format (`metrics.render()`) or register it with a prometheus_client
CollectorRegistry (`registry.register(metrics)`: it is a custom collector). Counters add up,
gauges keep the last value, histograms count into their buckets. A `workflow` label is added
to every series unless the workflow set one itself.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sloth_engine.store.events import EventRecord

log = logging.getLogger(__name__)

EVENT_TYPE = "metric.recorded"
Kind = Literal["counter", "gauge", "histogram"]
KINDS: tuple[Kind, ...] = ("counter", "gauge", "histogram")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""prometheus_client's default histogram buckets (seconds)."""

LabelKey = tuple[tuple[str, str], ...]


@dataclass
class Series:
    """One metric name: its kind and a value (or histogram state) per label set."""

    kind: Kind
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    values: dict[LabelKey, float] = field(default_factory=dict)
    counts: dict[LabelKey, list[int]] = field(default_factory=dict)
    sums: dict[LabelKey, float] = field(default_factory=dict)


class WorkflowMetrics:
    """The sum of the metric events it was given; safe to feed and read from several threads."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        """Put before every name, e.g. "sloth_workflow_"."""
        self._series: dict[str, Series] = {}
        self._lock = threading.Lock()

    def listen(self, event: Any) -> None:
        """A run listener: takes the RunEvents whose kind is metric.recorded."""
        if getattr(event, "kind", None) != EVENT_TYPE:
            return
        data = event.data.get("data", event.data)
        self.record(data, getattr(event, "workflow", ""))

    def record(self, data: Mapping[str, Any], workflow: str = "") -> None:
        """Add one event's data; data that does not fit (a changed kind) is logged and dropped."""
        kind, name = data.get("kind"), self.prefix + str(data.get("name", ""))
        try:
            value = float(data.get("value", 0))
        except (TypeError, ValueError):
            log.warning("metric %s: value %r is not a number", name, data.get("value"))
            return
        if kind not in KINDS or not name or math.isnan(value):
            log.warning("metric event dropped: %r", dict(data))
            return
        labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
        if workflow:
            labels.setdefault("workflow", workflow)
        key: LabelKey = tuple(sorted(labels.items()))
        with self._lock:
            series = self._series.get(name)
            if series is None:
                buckets = tuple(sorted(float(b) for b in data.get("buckets") or DEFAULT_BUCKETS))
                series = self._series[name] = Series(kind, buckets)
            if series.kind != kind:
                log.warning("metric %s is a %s, not a %s: dropped", name, series.kind, kind)
                return
            _add(series, key, value)

    def samples(self) -> dict[str, dict[str, Any]]:
        """A plain copy: name -> {kind, series: [{labels, value} | {labels, count, sum, buckets}]}."""
        with self._lock:
            out: dict[str, dict[str, Any]] = {}
            for name, series in self._series.items():
                rows: list[dict[str, Any]] = []
                if series.kind == "histogram":
                    for key, counts in series.counts.items():
                        cumulative = _cumulative(series.buckets, counts)
                        rows.append(
                            {
                                "labels": dict(key),
                                "count": sum(counts),
                                "sum": series.sums[key],
                                "buckets": cumulative,
                            }
                        )
                else:
                    rows = [{"labels": dict(key), "value": v} for key, v in series.values.items()]
                out[name] = {"kind": series.kind, "series": rows}
            return out

    def collect(self) -> Iterator[Any]:
        """prometheus_client's custom collector protocol."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        for name, info in sorted(self.samples().items()):
            rows = info["series"]
            names = sorted({k for row in rows for k in row["labels"]})
            help_text = f"recorded by workflows ({info['kind']})"
            if info["kind"] == "histogram":
                family: Any = HistogramMetricFamily(name, help_text, labels=names)
                for row in rows:
                    values = [row["labels"].get(n, "") for n in names]
                    family.add_metric(values, row["buckets"], row["sum"])
            else:
                cls = CounterMetricFamily if info["kind"] == "counter" else GaugeMetricFamily
                family = cls(name, help_text, labels=names)
                for row in rows:
                    family.add_metric([row["labels"].get(n, "") for n in names], row["value"])
            yield family

    def render(self) -> str:
        """The Prometheus text exposition format of everything recorded."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # type: ignore[arg-type]
        return generate_latest(registry).decode()

    @classmethod
    def from_events(cls, events: Iterable[EventRecord], prefix: str = "") -> WorkflowMetrics:
        """From stored events (`store.events.list(type_prefix="metric.")`)."""
        metrics = cls(prefix)
        for event in events:
            if event.type == EVENT_TYPE:
                data = event.data or {}
                metrics.record(data.get("data", data), str(data.get("workflow", "")))
        return metrics


def _add(series: Series, key: LabelKey, value: float) -> None:
    if series.kind == "counter":
        series.values[key] = series.values.get(key, 0.0) + value
    elif series.kind == "gauge":
        series.values[key] = value
    else:
        counts = series.counts.setdefault(key, [0] * (len(series.buckets) + 1))
        for i, bound in enumerate(series.buckets):
            if value <= bound:
                counts[i] += 1
                break
        else:
            counts[len(series.buckets)] += 1
        series.sums[key] = series.sums.get(key, 0.0) + value


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts as prometheus_client wants them: cumulative, ending with +Inf."""
    total, out = 0, []
    for bound, count in zip((*bounds, math.inf), counts, strict=True):
        total += count
        out.append(("+Inf" if bound == math.inf else repr(float(bound)), float(total)))
    return out
