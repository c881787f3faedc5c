"""The scheduler: plans each reminder wave when its step falls due, and each day's digest.

A wave is planned once (the `waves` table remembers it), for the units the campaign expects
that have not reported the period by then; a unit's report, whenever it comes, cancels its
reminders not yet sent (see handlers). A step more than `grace` in the past is not planned
(a notifier started after a long stop sends no stale reminders). Nothing is planned before
the registry read model has caught up: a half-read registry would leave units out of a
wave for good. Time comes from the clock, so tests drive it.
"""

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from services import periods
from services.bus.directory import Directory
from services.database import write_lock
from services.events import BreachDetected, CampaignSnapshot, UnitSnapshot
from services.notifier import planning, store
from services.notifier.dispatch import Clock
from services.notifier.models import Breach, Notification, Reported, Wave
from services.notifier.schedule import (
    Due,
    NotificationRules,
    digest_moment,
    reminders,
)
from services.periods import Period

log = structlog.get_logger()


class Scheduler:
    def __init__(self, engine: Engine, directory: Directory,
                 rules: Callable[[str], NotificationRules], links: planning.Links,
                 clock: Clock, *, ready: Callable[[], bool] = lambda: True,
                 grace: timedelta = timedelta(hours=12), every: float = 15.0,
                 on_planned: Callable[[], None] = lambda: None,
                 on_wave: Callable[[], None] = lambda: None,
                 on_digest: Callable[[], None] = lambda: None) -> None:
        self._engine, self._directory, self._rules, self._links = engine, directory, rules, links
        self._clock, self._ready, self._grace, self._every = clock, ready, grace, every
        self._on_planned, self._on_wave, self._on_digest = on_planned, on_wave, on_digest

    async def run(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self.tick):
                    self._on_planned()
            except Exception as exc:  # the database is away: the next tick tries again
                log.error("notifier.schedule_failed", error=repr(exc))
            await asyncio.sleep(self._every)

    def tick(self) -> int:
        """Plan what has fallen due; how many notifications were added."""
        if not self._ready():
            return 0
        now, added = self._clock.now(), 0
        for campaign in list(self._directory.campaigns.values()):
            if campaign.closes_on is not None and periods.local_day(now) > campaign.closes_on:
                continue  # a closed campaign reminds nobody
            try:
                added += self._campaign(campaign, now)
            except Exception as exc:  # one campaign's trouble stops no other's notices
                log.error("notifier.campaign_schedule_failed", campaign=campaign.code,
                          error=repr(exc))
        return added

    def _campaign(self, campaign: CampaignSnapshot, now: datetime) -> int:
        rules, added = self._rules(campaign.code), 0
        for due in reminders(campaign, rules, around=(now - self._grace, now)):
            if now - self._grace <= due.at <= now:
                added += self._wave(campaign, rules, due, now)
        return added + self._digest(campaign, rules, now)

    def _wave(self, campaign: CampaignSnapshot, rules: NotificationRules,
              due: Due, now: datetime) -> int:
        key = (campaign.code, due.period.name, due.step.name)
        with write_lock(self._engine), Session(self._engine) as session:
            if session.get(Wave, key) is not None:
                return 0
            missing = self._missing(session, campaign, due.period)
            added = store.add_new(session, planning.reminders(
                due, campaign, missing, rules, self._links, now))
            session.add(Wave(campaign=key[0], period=key[1], step=key[2], planned_at=now,
                             reminders=len(missing)))
            session.commit()
        self._on_wave()
        log.info("notifier.wave_planned", campaign=key[0], period=key[1], step=key[2],
                 units=len(missing), notifications=added)
        return added

    def _missing(self, session: Session, campaign: CampaignSnapshot,
                 period: Period) -> list[UnitSnapshot]:
        reported = set(session.exec(select(Reported.unit_code).where(
            Reported.campaign == campaign.code, Reported.period == period.name)))
        return [u for u in planning.expected(campaign, period, self._directory.units.values())
                if u.code not in reported]

    def _digest(self, campaign: CampaignSnapshot, rules: NotificationRules,
                now: datetime) -> int:
        """Today's digest, once today's digest hour has come; none before the campaign
        starts (there is nothing to sum up), nor after it ends unless new breaches came."""
        today = periods.local_day(now)
        if (not rules.department_emails or today < campaign.starts_on
                or now < digest_moment(today, rules)):
            return 0
        key = f"digest:{campaign.code}:{today.isoformat()}"
        with write_lock(self._engine), Session(self._engine) as session:
            if session.get(Notification, (key, "email")) is not None:
                return 0
            period = _latest_due(campaign, now)
            if period is None:
                return 0
            fresh = list(session.exec(select(Breach).where(
                Breach.campaign == campaign.code, col(Breach.digest_day).is_(None))
                .order_by(col(Breach.detected_at), col(Breach.breach_id))))
            if not fresh and today > campaign.ends_on:
                return 0  # an ended campaign: a digest only when something new came
            breaches = [BreachDetected.model_validate_json(b.event) for b in fresh]
            added = store.add_new(session, planning.digest(
                campaign, today, period, breaches, self._completeness(session, campaign, period),
                rules, self._links, now))
            session.execute(update(Breach).where(
                col(Breach.breach_id).in_([b.breach_id for b in fresh])).values(
                digest_day=today.isoformat()))
            session.commit()
        self._on_digest()
        log.info("notifier.digest_planned", campaign=campaign.code, day=str(today),
                 breaches=len(breaches))
        return added

    def _completeness(self, session: Session, campaign: CampaignSnapshot,
                      period: Period) -> list[tuple[str, int, int, int]]:
        expected = planning.expected(campaign, period, self._directory.units.values())
        kinds = Counter(str(u.kind) for u in expected)
        codes = {u.code for u in expected}
        rows = session.exec(select(Reported).where(Reported.campaign == campaign.code,
                                                   Reported.period == period.name)).all()
        reported = Counter(r.unit_kind for r in rows if r.unit_code in codes)
        on_time = Counter(r.unit_kind for r in rows if r.unit_code in codes and r.on_time)
        return [(kind, kinds[kind], reported[kind], on_time[kind]) for kind in sorted(kinds)]


def _latest_due(campaign: CampaignSnapshot, now: datetime) -> Period | None:
    """The period whose deadline passed last (the digest's subject), else the first."""
    last = min(campaign.ends_on, now.date())
    recent = [p for p in periods.of_campaign(campaign, last - timedelta(days=95), last)
              if p.deadline <= now]
    return recent[-1] if recent else next(iter(periods.of_campaign(campaign)), None)
