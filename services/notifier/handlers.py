"""The notifier's Kafka handlers, on the shared runner: reports in (a receipt, reminders
cancelled, the unit counted as reported) and breaches (an alert to the unit, kept for the
day's digest). Their rows commit in the runner's transaction, before the offsets: a
redelivered event finds its notifications planned already, by their keys.

Events much older than `fresh_for` (a topic read again from its beginning after a broker
lost its data, a new notifier deployed on a month of history) still count a unit as
reported, but send no receipt nor alert: those were news then, not now.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from pydantic import ValidationError
from sqlmodel import Session

from services import periods
from services.bus.consumer import Batch
from services.bus.directory import Directory
from services.database import insert_on_conflict
from services.events import AGGREGATOR_BREACHES, REPORTS, BreachDetected, ReportSubmitted
from services.notifier import planning, store
from services.notifier.dispatch import Clock
from services.notifier.models import Breach, Notification, Reported
from services.notifier.schedule import NotificationRules

log = structlog.get_logger()
Rules = Callable[[str], NotificationRules]


class ReportsHandler:
    name = "notifier-reports"
    topics = (REPORTS,)

    def __init__(self, directory: Directory, rules: Rules, clock: Clock, *,
                 on_planned: Callable[[], None] = lambda: None,
                 fresh_for: timedelta = timedelta(hours=24)) -> None:
        self._directory, self._rules, self._clock = directory, rules, clock
        self._on_planned, self._fresh_for = on_planned, fresh_for

    def handle(self, session: Session | None, batch: Batch) -> int:
        assert session is not None
        now, planned = self._clock.now(), []
        for message in batch.messages:
            try:
                event = ReportSubmitted.model_validate_json(message.value or b"")
            except ValidationError as exc:
                batch.bury(message, str(exc))
                continue
            _reported(session, event)
            store.cancel_reminders(session, event.unit_code, event.campaign_code, event.period)
            if now - event.received_at <= self._fresh_for:
                planned += self._receipt(event, now)
        return store.add_new(session, planned)

    def _receipt(self, event: ReportSubmitted, now: datetime) -> list[Notification]:
        unit = self._directory.units.get(event.unit_code)
        campaign = self._directory.campaigns.get(event.campaign_code)
        if unit is None or campaign is None:
            log.warning("notifier.receipt_skipped", report=event.report_id,
                        reason="unit or campaign not in the registry read model")
            return []
        try:
            period = periods.in_campaign(campaign, event.period)
        except periods.PeriodError:
            return []
        return planning.receipt(event, unit, campaign, period, self._rules(campaign.code), now)

    def committed(self, result: int) -> None:
        if result:
            self._on_planned()


def _reported(session: Session, event: ReportSubmitted) -> None:
    """The unit's period is in; the first version's timeliness stays (on conflict, nothing)."""
    session.execute(insert_on_conflict(session)(Reported).values(
        campaign=event.campaign_code, period=event.period, unit_code=event.unit_code,
        unit_kind=event.unit_kind, on_time=event.on_time).on_conflict_do_nothing())


class BreachesHandler:
    name = "notifier-breaches"
    topics = (AGGREGATOR_BREACHES,)

    def __init__(self, directory: Directory, rules: Rules, links: planning.Links,
                 clock: Clock, *, on_planned: Callable[[], None] = lambda: None,
                 fresh_for: timedelta = timedelta(hours=24)) -> None:
        self._directory, self._rules, self._links, self._clock = directory, rules, links, clock
        self._on_planned, self._fresh_for = on_planned, fresh_for

    def handle(self, session: Session | None, batch: Batch) -> int:
        assert session is not None
        now, planned = self._clock.now(), []
        for message in batch.messages:
            if message.value is None:
                continue
            try:
                breach = BreachDetected.model_validate_json(message.value)
            except ValidationError as exc:
                batch.bury(message, str(exc))
                continue
            session.execute(insert_on_conflict(session)(Breach).values(
                breach_id=breach.breach_id, campaign=breach.campaign,
                event=breach.model_dump_json(), detected_at=breach.detected_at,
            ).on_conflict_do_nothing())
            unit = self._directory.units.get(breach.unit_code)
            campaign = self._directory.campaigns.get(breach.campaign)
            if unit is not None and campaign is not None and \
                    now - breach.detected_at <= self._fresh_for:
                planned += planning.breach_alert(breach, unit, campaign,
                                                 self._rules(campaign.code), self._links, now)
        return store.add_new(session, planned)

    def committed(self, result: int) -> None:
        if result:
            self._on_planned()
