"""Reporting's business metrics."""

from prometheus_client import Counter

from services.observability import ServiceMetrics


class IntakeMetrics:
    """Reports accepted, rejected, revised and replayed."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        registry = metrics.registry
        self.accepted = Counter("reports_accepted_total", "Reports stored.", ["timeliness"],
                                registry=registry)
        self.rejected = Counter("reports_rejected_total", "Reports refused, by rule.",
                                ["reason"], registry=registry)
        self.revisions = Counter("report_revisions_total", "Reports that superseded another.",
                                 registry=registry)
        self.replays = Counter("report_replays_total", "Repeated submissions answered with "
                               "the first receipt.", registry=registry)
        # labels() locks and builds its key on every call: the hot path's series, looked up once
        self.on_time, self.late = self.accepted.labels("on_time"), self.accepted.labels("late")
