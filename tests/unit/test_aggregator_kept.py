"""The figures the fold keeps equal the figures made from scratch.

A seeded scenario of 60 units over two weeks: revisions that change every count and move a
unit's broadcasts above or below target, late first reports with on-time revisions and the
reverse, a retired unit, units whose kind the campaign does not expect, duplicates and old
versions redelivered, all in shuffled batches. The live database keeps its figures by
differences, batch after batch; the rebuild folds only the standing versions, once, into a
fresh database. Every feed must say the same of both, and agree with totals worked out here
from the events themselves.
"""

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from services.aggregator import feeds, service
from services.aggregator.migrations import MIGRATIONS
from services.events import CampaignSnapshot, KindTargets, ReportSubmitted
from tests.unit.test_aggregator_rules import (
    AFTER_THE_PERIOD,
    LATE,
    ON_TIME,
    PERIODS,
    Aggregates,
    report,
    unit,
)

KINDS = ("commune", "commune", "ward", "department", "press", "portal")
WEEKS = ("2026-W04", "2026-W05")


def _activities(rng: random.Random, period: str) -> list[dict[str, Any]]:
    start = PERIODS[period][0]
    found: list[dict[str, Any]] = [
        {"kind": "banner", "count": rng.randint(0, 4)},
        {"kind": "social_post", "count": rng.randint(1, 5),
         "platform": rng.choice(("facebook", "zalo", "youtube", "tiktok")), "format": "news"},
        {"kind": "loudspeaker_broadcast", "daily_counts": {
            str(start + timedelta(days=d)): rng.randint(0, 2) for d in range(7)
            if rng.random() < 0.8}}]
    if rng.random() < 0.4:
        found.append({"kind": "foreign_language_item", "count": rng.randint(1, 3),
                      "language": rng.choice(("en", "zh", "ja", "ko")), "format": "bulletin"})
    return found


def scenario(seed: int) -> tuple[list[Any], list[ReportSubmitted]]:
    """Units, and every version of every report they sent (with their order of arrival to
    be shuffled)."""
    rng = random.Random(seed)
    units = [unit(f"u-{n:02d}", KINDS[n % len(KINDS)]) for n in range(60)]
    units[7] = unit("u-07", "ward", active_until="2026-01-28")  # retired in W05
    events = []
    for u in units:
        for period in WEEKS:
            if rng.random() < 0.25:
                continue  # missing
            first = rng.choice((ON_TIME, LATE))
            if period == "2026-W05":
                first += timedelta(days=7)
            for version in range(1, rng.randint(1, 3) + 1):
                at = first + timedelta(hours=7 * (version - 1))
                events.append(report(u.code, version, at=at, first=first, kind=u.kind,
                                     period=period, activities=_activities(rng, period)))
    return units, events


def world(migrated: Any, units: list[Any]) -> Aggregates:
    aggregates = Aggregates(migrated(MIGRATIONS))
    aggregates.add(*units)
    return aggregates


def everything(aggregates: Aggregates, today: date) -> dict[str, Any]:
    """What every feed says of each period and kind."""
    said: dict[str, Any] = {}
    with Session(aggregates.engine) as session:
        for period in WEEKS:
            for kind in (None, "commune", "ward", "department"):
                view = aggregates.view(period, kind)
                said[f"{period}/{kind}"] = feeds.progress(session, aggregates.directory, view,
                                                          today).model_dump()
                said[f"{period}/{kind}/units"] = feeds.unit_table(
                    session, aggregates.directory, view, after=None, limit=1000).model_dump()
                said[f"{period}/{kind}/missing"] = feeds.missing(
                    session, aggregates.directory, view, after=None, limit=1000).model_dump()
                said[f"{period}/{kind}/below"] = feeds.below_target(
                    session, aggregates.directory, view, today, rule=None, after=None,
                    limit=1000).model_dump()
    return said


def standing(events: list[ReportSubmitted]) -> dict[tuple[str, str], ReportSubmitted]:
    best: dict[tuple[str, str], ReportSubmitted] = {}
    for e in events:
        key = (e.unit_code, e.period)
        if key not in best or best[key].version < e.version:
            best[key] = e
    return best


def test_the_kept_figures_equal_a_rebuild_and_the_events_own_sums(migrated) -> None:
    units, events = scenario(seed=14)
    rng = random.Random(3)
    arrivals = events + rng.sample(events, len(events) // 3)  # redeliveries
    rng.shuffle(arrivals)
    live = world(migrated, units)
    at = 0
    while at < len(arrivals):
        size = rng.randint(1, 40)
        live.fold(*arrivals[at:at + size])
        at += size
    rebuilt = world(migrated, units)
    rebuilt.fold(*standing(events).values())

    for today in (date(2026, 1, 22), AFTER_THE_PERIOD, date(2026, 2, 10)):
        assert everything(live, today) == everything(rebuilt, today)

    # and the figures are the events' own: reported, on time, totals per period
    expected_kinds = {"commune", "ward", "department", "press"}
    for period in WEEKS:
        mine = [e for (_, p), e in standing(events).items() if p == period
                and e.unit_kind in expected_kinds]
        progress = live.progress(period)
        assert progress.city.reported == len(mine)
        assert progress.city.on_time == sum(1 for e in mine if e.first_received_at is not None
                                            and e.first_received_at <= e.deadline)
        counted: Counter[str] = Counter()
        for e in standing(events).values():
            if e.period == period:
                for a in e.activities:
                    counted[a.kind] += a.count
        assert progress.totals.by_activity_kind == {k: n for k, n in sorted(counted.items())
                                                    if n}
        assert progress.missing == progress.city.expected - len(mine) > 0


def test_new_targets_are_judged_again_and_agree_with_a_fold_under_them(migrated) -> None:
    units, events = scenario(seed=5)
    live = world(migrated, units)
    live.fold(*events)
    before = live.progress(today=AFTER_THE_PERIOD).loudspeaker
    stricter = _with_weekly_target(live.directory.campaigns["dai-hoi-xiv"], 9)
    live.directory.campaigns = {"dai-hoi-xiv": stricter}
    with Session(live.engine) as session:
        assert service.rejudge(session, [stricter]) > 0
        session.commit()
        assert service.rejudge(session, [stricter]) == 0  # nothing stale any more
    after = live.progress(today=AFTER_THE_PERIOD).loudspeaker
    assert after.units_below_weekly > before.units_below_weekly
    fresh = world(migrated, units)
    fresh.directory.campaigns = {"dai-hoi-xiv": stricter}
    fresh.fold(*events)
    assert everything(live, AFTER_THE_PERIOD) == everything(fresh, AFTER_THE_PERIOD)


def test_a_report_folded_before_its_campaign_is_known_is_judged_later(migrated) -> None:
    units, events = scenario(seed=9)
    early = world(migrated, units)
    known = early.directory.campaigns
    early.directory.campaigns = {}
    early.fold(*events)  # the registry's campaign has not arrived yet
    early.directory.campaigns = known
    unjudged = early.progress(today=AFTER_THE_PERIOD).loudspeaker
    assert unjudged.units_failing == 0
    with Session(early.engine) as session:
        service.rejudge(session, list(known.values()))
        session.commit()
    fresh = world(migrated, units)
    fresh.fold(*events)
    assert early.progress(today=AFTER_THE_PERIOD).loudspeaker == \
        fresh.progress(today=AFTER_THE_PERIOD).loudspeaker
    assert fresh.progress(today=AFTER_THE_PERIOD).loudspeaker.units_failing > 0


def _with_weekly_target(campaign: CampaignSnapshot, weekly: int) -> CampaignSnapshot:
    targets = {kind: KindTargets(loudspeaker_per_week=weekly, loudspeaker_per_peak_day=1)
               if kind in ("commune", "ward") else t for kind, t in campaign.targets.items()}
    return campaign.model_copy(update={"targets": targets, "revision": campaign.revision + 1})
