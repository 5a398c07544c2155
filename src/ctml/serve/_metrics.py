"""Prometheus metrics of one server, in its own registry (no global state): requests, latency, errors,
predictions per route and version, the prediction log's queue depth, writes and drops, and model swaps."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ctml.serve._log import PredictionLog

__all__ = ["ServeMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _LogCollector(Collector):
    def __init__(self, log: PredictionLog) -> None:
        self.log = log

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("ctml_serve_log_queue_depth", "Predictions queued, not yet written.", self.log.depth)
        yield GaugeMetricFamily(
            "ctml_serve_log_capacity", "Rows the log queue holds before it drops.", self.log.capacity
        )
        yield CounterMetricFamily(
            "ctml_serve_log_dropped", "Predictions dropped because the log queue was full.", self.log.dropped
        )
        yield CounterMetricFamily("ctml_serve_log_written", "Predictions written to the store.", self.log.written)
        yield CounterMetricFamily("ctml_serve_log_write_failures", "Failed log writes (retried).", self.log.failures)


class ServeMetrics:
    def __init__(self, log: PredictionLog) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ctml_serve_requests", "HTTP requests.", ["app", "endpoint", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ctml_serve_request_seconds",
            "Request latency.",
            ["app", "endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "ctml_serve_errors",
            "Requests answered with an error.",
            ["app", "endpoint", "status"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "ctml_serve_predictions", "Rows predicted.", ["app", "route", "version"], registry=self.registry
        )
        self.swaps = Counter("ctml_serve_model_swaps", "Route tables swapped in.", ["app"], registry=self.registry)
        self.load_failures = Counter(
            "ctml_serve_model_load_failures", "Versions that failed to load or warm.", ["app"], registry=self.registry
        )
        self.registry.register(_LogCollector(log))

    def render(self) -> bytes:
        return generate_latest(self.registry)
