"""The aggregator's metrics; labels stay bounded (never a unit code)."""

import time
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from services.events import ReportSubmitted
from services.observability import ServiceMetrics


class AggregatorMetrics:
    """Consumer health and campaign progress for Grafana."""

    def __init__(self, base: ServiceMetrics) -> None:
        registry = base.registry
        self.base = base
        self.applied = Counter("aggregator_reports_applied_total", "Report versions folded "
                               "into the aggregates (duplicates excluded).", registry=registry)
        self.dead_letters = Counter("aggregator_dead_letters_total", "Messages sent to the "
                                    "dead-letter topic.", registry=registry)
        self.lag = Gauge("aggregator_consumer_lag_messages", "Report messages not yet folded.",
                         registry=registry)
        self.latency = Histogram(
            "aggregator_processing_latency_seconds", "From intake to the aggregates.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300),
            registry=registry)
        self.batch_seconds = Histogram("aggregator_batch_duration_seconds", "Time to fold and "
                                       "commit one batch.", registry=registry)

    def observe_batch(self, applied: list[ReportSubmitted], started: datetime) -> None:
        now = time.time()
        self.applied.inc(len(applied))
        for event in applied:
            self.latency.observe(max(0.0, now - event.received_at.timestamp()))
        self.batch_seconds.observe((datetime.now(UTC) - started).total_seconds())
