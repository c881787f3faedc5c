"""The notifier's metrics: what was sent, failed, retried and parked, by channel and kind;
delivery latency; reminders waiting; waves and digests planned."""

from prometheus_client import Counter, Gauge, Histogram

from services.notifier.models import Notification, State
from services.observability import ServiceMetrics


class NotifierMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        registry = metrics.registry
        self.sent = Counter("notifications_sent_total", "Notifications a channel accepted.",
                            ["channel", "kind"], registry=registry)
        self.failed = Counter("notifications_failed_total", "Delivery attempts that failed.",
                              ["channel", "kind"], registry=registry)
        self.retried = Counter("notifications_retried_total", "Failed attempts scheduled "
                               "again.", ["channel", "kind"], registry=registry)
        self.parked = Counter("notifications_parked_total", "Notifications parked after "
                              "their last attempt.", ["channel", "kind"], registry=registry)
        self.latency = Histogram(
            "notification_delivery_seconds", "From falling due to the channel's acceptance.",
            ["channel"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 21600),
            registry=registry)
        self.waiting = Gauge("notifications_waiting", "Notifications not yet sent, by state "
                             "and kind (scheduled reminders are the pending ones).",
                             ["state", "kind"], registry=registry)
        self.waves = Counter("notifier_reminder_waves_total", "Reminder waves planned.",
                             registry=registry)
        self.digests = Counter("notifier_digest_runs_total", "Daily digests planned.",
                               registry=registry)

    def sent_one(self, notification: Notification, latency: float) -> None:
        self.sent.labels(notification.channel, notification.kind).inc()
        self.latency.labels(notification.channel).observe(latency)

    def failed_one(self, notification: Notification, parked: bool) -> None:
        labels = (notification.channel, notification.kind)
        self.failed.labels(*labels).inc()
        (self.parked if parked else self.retried).labels(*labels).inc()

    def waiting_now(self, counts: dict[tuple[str, str], int]) -> None:
        for state in (State.scheduled, State.sending, State.parked):
            for kind in ("receipt", "reminder", "breach", "digest"):
                self.waiting.labels(state, kind).set(counts.get((state, kind), 0))
