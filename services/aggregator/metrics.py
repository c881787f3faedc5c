"""The aggregator's metrics; labels stay bounded (never a unit code).

The campaign gauges are computed from the database, which a scrape must never wait on (the
/metrics route runs on the event loop): `CampaignGauges.refresh` computes them, called from
a thread every few seconds and after folds, and a scrape reads the figures it left.
"""

import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import Session

from services.aggregator import feeds
from services.aggregator.feeds import CampaignFigures
from services.bus.directory import Directory
from services.events import ReportSubmitted
from services.observability import ServiceMetrics


class AggregatorMetrics:
    """What the fold did; lag, batches and dead letters are the shared runner's
    (`consumer_*{consumer="aggregator"}`)."""

    def __init__(self, base: ServiceMetrics) -> None:
        registry = base.registry
        self.base = base
        self.applied = Counter("aggregator_reports_applied_total", "Report versions that "
                               "became the standing version of their unit and period.",
                               registry=registry)
        self.latency = Histogram(
            "aggregator_processing_latency_seconds", "From intake to the aggregates.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300),
            registry=registry)

    def observe_applied(self, applied: list[ReportSubmitted]) -> None:
        """Count the versions that became standing, and how long each took from intake."""
        now = time.time()
        self.applied.inc(len(applied))
        for event in applied:
            self.latency.observe(max(0.0, now - event.received_at.timestamp()))


class CampaignGauges:
    """The campaign gauges for Grafana: figures kept in memory, refreshed off the event loop
    by `refresh`, read by a scrape without touching the database."""

    def __init__(self, base: ServiceMetrics) -> None:
        self.figures: list[CampaignFigures] = []
        base.registry.register(CampaignCollector(self))

    def refresh(self, session: Session, directory: Directory, now: datetime) -> None:
        """Recompute every campaign's figures (blocking: call from a thread)."""
        self.figures = feeds.campaign_figures(session, directory, now)  # one swap: atomic


class CampaignCollector(Collector):
    """Campaign gauges from the figures last refreshed (labels stay bounded: campaign, unit
    kind, activity kind, platform, language; never a unit code)."""

    def __init__(self, gauges: CampaignGauges) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ratios = GaugeMetricFamily("campaign_completeness_ratio", "Units that reported / "
                                   "units expected, latest due period.",
                                   labels=["campaign", "unit_kind"])
        timely = GaugeMetricFamily("campaign_timeliness_ratio", "Units on time / units "
                                   "expected, latest due period.",
                                   labels=["campaign", "unit_kind"])
        missing = GaugeMetricFamily("campaign_units_missing", "Units expected that have not "
                                    "reported, latest due period.",
                                    labels=["campaign", "unit_kind"])
        below = GaugeMetricFamily("campaign_units_below_broadcast_target", "Commune-level "
                                  "units that reported and are below a loudspeaker target, "
                                  "latest due period.", labels=["campaign", "rule"])
        activities = GaugeMetricFamily("campaign_activities", "Activities counted over the "
                                       "campaign.", labels=["campaign", "kind", "platform",
                                                            "language"])
        upcoming = GaugeMetricFamily("campaign_next_deadline_timestamp_seconds", "When the "
                                     "report of the period due next is due.",
                                     labels=["campaign", "period"])
        so_far = GaugeMetricFamily("campaign_next_deadline_completeness_ratio", "Units that "
                                   "reported / units expected, city-wide, period due next.",
                                   labels=["campaign", "period"])
        for f in self._gauges.figures:
            for kind, share in f.completeness.items():
                ratios.add_metric([f.campaign, kind], share)
            for kind, share in f.timeliness.items():
                timely.add_metric([f.campaign, kind], share)
            for kind, count in f.missing.items():
                missing.add_metric([f.campaign, kind], count)
            if f.below is not None:
                below.add_metric([f.campaign, "weekly"], f.below[0])
                below.add_metric([f.campaign, "peak_day"], f.below[1])
            for (kind, platform, language), count in f.activities.items():
                activities.add_metric([f.campaign, kind, platform, language], count)
            if (due := f.next_due) is not None:
                upcoming.add_metric([f.campaign, due.name], due.deadline.timestamp())
                if due.completeness is not None:
                    so_far.add_metric([f.campaign, due.name], due.completeness)
        yield from (ratios, timely, missing, below, activities, upcoming, so_far)
