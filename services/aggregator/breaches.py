"""Breaches: a report missing at its deadline, or a loudspeaker target not met.

Checked every so often (deadlines pass with no event to mark them), and only in the periods
whose deadline passed and whose figures or registry changed since they were last examined;
each breach has a stable id, is stored with its event in one transaction and so announced
once, whatever the restarts. Loudspeaker breaches are judged by the feeds' own verdicts (the
units below target): only units that reported; a unit that did not report is announced as
missing, not once per silent day.
"""

import asyncio
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services import periods
from services.aggregator import feeds, service, store
from services.aggregator.models import Breach
from services.aggregator.service import Period
from services.bus.directory import Directory
from services.bus.outbox import enqueue_raw
from services.database import raw_in, write_lock
from services.events import AGGREGATOR_BREACHES, BreachDetected, UnitSnapshot

log = structlog.get_logger()


Mark = tuple[int, int]  # a period's figures revision and the registry's, when examined
Marks = dict[tuple[str, str], Mark]


def find(session: Session, directory: Directory, now: datetime,
         examined: Marks | None = None) -> tuple[list[BreachDetected], Marks]:
    """The breaches of every campaign as of `now`, in the periods whose deadline passed:
    only those not examined since their figures or the registry last changed (`examined`,
    as the last call returned it; None: every period). Returns them, and the periods now
    examined."""
    found, marks = [], {}
    for campaign in list(directory.campaigns.values()):
        for due in service.due_periods(campaign, now):
            mark = (store.revision(session, campaign.code, due.name), directory.revision)
            if examined is not None and examined.get((campaign.code, due.name)) == mark:
                continue
            found += _period_breaches(session, directory,
                                      Period(campaign, due.name, due.start, due.end),
                                      due.deadline, now)
            marks[campaign.code, due.name] = mark
    return found, marks


def _period_breaches(session: Session, directory: Directory, view: Period,
                     deadline: datetime, now: datetime) -> list[BreachDetected]:
    campaign = view.campaign
    expected = feeds.expected(directory, view).units
    reported = store.reported(session, campaign.code, view.name)

    def breach(unit: UnitSnapshot, rule: str, subject: str, **figures: object) -> BreachDetected:
        return BreachDetected(
            breach_id=f"{campaign.code}|{rule}|{unit.code}|{subject}", campaign=campaign.code,
            rule=rule, unit_code=unit.code, unit_name=unit.name, unit_kind=unit.kind,
            period=view.name, deadline=deadline, detected_at=now, **figures)

    found = [breach(u, "report_missing", view.name)
             for c, u in expected.items() if c not in reported]
    below = feeds.below_target(session, directory, view, periods.local_day(now), rule=None,
                               after=None, limit=len(expected) + 1)
    for failing in below.items:
        unit = expected.get(failing.code)
        if unit is None:  # reported, but no longer expected: not judged
            continue
        found += [breach(unit, "loudspeaker_weekly", w.week, broadcasts=w.broadcasts,
                         target=w.target) for w in failing.weeks_below]
        found += [breach(unit, "loudspeaker_peak_day", str(d.day), day=d.day,
                         broadcasts=d.broadcasts, target=d.target) for d in failing.days_below]
    return found


def record(session: Session, found: list[BreachDetected]) -> list[BreachDetected]:
    """Store and queue the breaches not announced before; never commits."""
    ids = [b.breach_id for b in found]
    known = set(session.exec(select(Breach.id).where(col(Breach.id).in_(ids)))) if ids else set()
    fresh = [b for b in found if b.breach_id not in known]
    for b in fresh:
        session.add(Breach(id=b.breach_id, detected_at=b.detected_at))
    enqueue_raw(raw_in(session), AGGREGATOR_BREACHES,
                [(b.unit_code, b.model_dump_json().encode()) for b in fresh])
    return fresh


class Wakeable(Protocol):
    """The outbox relay, as far as the watch needs it."""

    def wake(self) -> None: ...


class BreachWatch:
    """Looks for new breaches every `interval` seconds."""

    def __init__(self, engine: Engine, directory: Directory, relay: Wakeable,
                 interval: float) -> None:
        self._engine, self._directory, self._relay = engine, directory, relay
        self._interval = interval
        self._examined: Marks = {}  # after a restart every period once: breaches are
        # once-only (stored), so none is announced again

    async def run(self, caught_up: asyncio.Event) -> None:
        await caught_up.wait()  # judging with half the registry would invent breaches
        while True:
            try:
                fresh = await asyncio.to_thread(self.check, datetime.now(UTC))
                if fresh:
                    log.info("breaches.detected", count=len(fresh))
                    self._relay.wake()
            except Exception as exc:  # the next round tries again
                log.error("breaches.check_failed", error=repr(exc))
            await asyncio.sleep(self._interval)

    def check(self, now: datetime) -> list[BreachDetected]:
        """Judge what is stale, record the new breaches of the periods that changed."""
        with write_lock(self._engine), Session(self._engine) as session:
            service.rejudge(session, list(self._directory.campaigns.values()))
            found, marks = find(session, self._directory, now, self._examined)
            fresh = record(session, found)
            session.commit()
        self._examined.update(marks)
        return fresh
