"""Prometheus metrics of the edge, in a registry of its own (served on the admin port).

Hot-path updates touch pre-bound children only; counters kept elsewhere (session cookie
outcomes, engine failures, the analytics writer, configuration reloads) are read when
Prometheus scrapes, by a collector, and cost the request path nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from botwarden.analytics.writer import Writer, WriterMetrics
    from botwarden.edge.config import ConfigWatcher
    from botwarden.scoring import Pipeline
    from botwarden.session import SessionCodec

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ENGINE_BUCKETS = (5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1)
_EDGE_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 1.0)


class EdgeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "botwarden_edge_requests",
            "Requests by the action taken and the bot grouping of their score.",
            ["action", "grouping"],
            registry=r,
        )
        self.engine_seconds = Histogram(
            "botwarden_edge_engine_seconds",
            "Time each detection engine took per request.",
            ["engine"],
            buckets=_ENGINE_BUCKETS,
            registry=r,
        )
        self.decision_seconds = Histogram(
            "botwarden_edge_decision_seconds",
            "Time from the request head to the decision (score, session, rules).",
            buckets=_EDGE_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "botwarden_edge_upstream_errors",
            "Requests the origin failed: connect (502), timeout (504), broken response.",
            ["kind"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "botwarden_edge_upstream_seconds",
            "Time to the origin's response head.",
            buckets=_EDGE_BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "botwarden_edge_open_connections", "Client connections open.", registry=r
        )
        self.tls_hellos = Counter(
            "botwarden_edge_tls_hellos",
            "TLS connections by how their ClientHello was read.",
            ["outcome"],
            registry=r,
        )
        self._requests: dict[tuple[str, str], Callable[[], None]] = {}
        self._engines: dict[str, Callable[[float], None]] = {}

    def count_request(self, action: str, grouping: str) -> None:
        inc = self._requests.get((action, grouping))
        if inc is None:
            inc = self._requests[(action, grouping)] = self.requests.labels(action, grouping).inc
        inc()

    def observe_engines(self, timings_us: dict[str, float]) -> None:
        engines = self._engines
        for name, us in timings_us.items():
            observe = engines.get(name)
            if observe is None:
                observe = engines[name] = self.engine_seconds.labels(name).observe
            observe(us / 1e6)

    def watch(
        self,
        *,
        sessions: SessionCodec | None = None,
        pipeline: Pipeline | None = None,
        writer: Writer | None = None,
        config: ConfigWatcher | None = None,
        writer_metrics: Callable[[], WriterMetrics | None] | None = None,
    ) -> None:
        """Expose counters other objects keep, read at scrape time (`writer_metrics`: the
        writer's metrics when it runs elsewhere, as in a child process)."""
        if writer is not None:
            writer_metrics = writer.metrics
        self.registry.register(_Collected(sessions, pipeline, writer_metrics, config))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Collected(Collector):
    def __init__(
        self,
        sessions: SessionCodec | None,
        pipeline: Pipeline | None,
        writer: Callable[[], WriterMetrics | None] | None,
        config: ConfigWatcher | None,
    ) -> None:
        self.sessions = sessions
        self.pipeline = pipeline
        self.writer = writer
        self.config = config

    def collect(self) -> Iterator[Metric]:
        if self.sessions is not None:
            c = CounterMetricFamily(
                "botwarden_edge_session_cookies",
                "Session cookies by outcome: issued, valid, tampered, expired.",
                labels=["outcome"],
            )
            for outcome in ("issued", "valid", "tampered", "expired"):
                c.add_metric([outcome], self.sessions.stats[outcome])
            yield c
        if self.pipeline is not None:
            c = CounterMetricFamily(
                "botwarden_edge_engine_errors",
                "Engine failures (each treated as no opinion).",
                labels=["engine"],
            )
            for e in self.pipeline.engines:
                c.add_metric([e.name], self.pipeline.errors[e.name])
            yield c
        m = self.writer() if self.writer is not None else None
        if m is not None:
            g = GaugeMetricFamily(
                "botwarden_analytics_writer", "Analytics writer health.", labels=["what"]
            )
            g.add_metric(["queue_depth"], m.queue_depth)
            g.add_metric(["pending_events"], m.pending_events)
            g.add_metric(["spool_bytes"], m.spool_bytes)
            g.add_metric(["backend_up"], 1.0 if m.backend_up else 0.0)
            g.add_metric(["flush_latency_ms_p99"], m.flush_latency_ms_p99)
            yield g
            c = CounterMetricFamily(
                "botwarden_analytics_events", "Analytics events by fate.", labels=["fate"]
            )
            c.add_metric(["spooled"], m.spooled_events)
            c.add_metric(["stored"], m.stored_events)
            c.add_metric(["dropped"], m.dropped)
            c.add_metric(["backend_errors"], m.backend_errors)
            yield c
        if self.config is not None:
            g = GaugeMetricFamily("botwarden_edge_config_version", "Configuration version served.")
            g.add_metric([], self.config.current.version)
            yield g
            c = CounterMetricFamily(
                "botwarden_edge_config_reloads", "Configuration loads.", labels=["outcome"]
            )
            c.add_metric(["ok"], self.config.reloads)
            c.add_metric(["error"], self.config.errors)
            yield c
