"""The aggregator's metrics; labels stay bounded (never a unit code)."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.events import ReportSubmitted
from services.observability import ServiceMetrics


class AggregatorMetrics:
    """Consumer health and campaign progress for Grafana."""

    def __init__(self, base: ServiceMetrics) -> None:
        registry = base.registry
        self.base = base
        self.applied = Counter("aggregator_reports_applied_total", "Report versions that "
                               "became the standing version of their unit and period.",
                               registry=registry)
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


@dataclass
class CampaignFigures:
    campaign: str
    completeness: dict[str, float]
    timeliness: dict[str, float]
    below_weekly: int
    below_daily: int
    activities: dict[tuple[str, str, str], int]


class CampaignCollector(Collector):
    """Campaign gauges computed at scrape time from the aggregates (labels stay bounded:
    campaign, unit kind, activity kind, platform, language; never a unit code)."""

    def __init__(self, figures: Callable[[], list[CampaignFigures]]) -> None:
        self._figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ratios = GaugeMetricFamily("campaign_completeness_ratio", "Units that reported / "
                                   "units expected, latest due period.",
                                   labels=["campaign", "unit_kind"])
        timely = GaugeMetricFamily("campaign_timeliness_ratio", "Units on time / units "
                                   "expected, latest due period.",
                                   labels=["campaign", "unit_kind"])
        below = GaugeMetricFamily("campaign_units_below_broadcast_target", "Commune-level "
                                  "units below a loudspeaker target, latest due period.",
                                  labels=["campaign", "rule"])
        activities = GaugeMetricFamily("campaign_activities", "Activities counted over the "
                                       "campaign.", labels=["campaign", "kind", "platform",
                                                            "language"])
        for f in self._figures():
            for kind, share in f.completeness.items():
                ratios.add_metric([f.campaign, kind], share)
            for kind, share in f.timeliness.items():
                timely.add_metric([f.campaign, kind], share)
            below.add_metric([f.campaign, "weekly"], f.below_weekly)
            below.add_metric([f.campaign, "peak_day"], f.below_daily)
            for (kind, platform, language), count in f.activities.items():
                activities.add_metric([f.campaign, kind, platform, language], count)
        yield from (ratios, timely, below, activities)
