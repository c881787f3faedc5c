"""The figures the fold keeps equal the figures made from scratch.

A seeded scenario of 60 units of two parents (and a few of none) over two weeks: revisions
that change every count and move a unit's broadcasts above or below target, late first
reports with on-time revisions and the reverse, a retired unit, units whose kind the
campaign does not expect, duplicates and old versions redelivered, all in shuffled batches;
and half-way through, units moved to another parent, one whose record reaches the fold only
after its reports. The live database keeps its figures by differences, batch after batch;
the rebuild folds only the standing versions, once, into a fresh database. Every feed, of
every parent and rolled up by parent, must say the same of both, and agree with totals
worked out here from the events themselves.
"""

import random
from collections import Counter
from datetime import date, timedelta
from itertools import product
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session

from services import database
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
PARENTS = (None, "31", "01")
MOVED = {"u-02": "01", "u-04": "01", "u-13": "31", "u-10": "31"}  # u-10 had none
LATE_RECORD = "u-03"  # its record reaches the fold after half of the reports


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
    units = [unit(f"u-{n:02d}", KINDS[n % len(KINDS)], parent=PARENTS[1 + n % 2] if n % 10
                  else None) for n in range(60)]
    units[7] = unit("u-07", "ward", active_until="2026-01-28", parent="31")  # retired in W05
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


def moved(units: list[Any]) -> list[Any]:
    """The records of the units that move to another parent half-way."""
    return [u.model_copy(update={"parent": MOVED[u.code], "revision": 2}) for u in units
            if u.code in MOVED]


def everything(aggregates: Aggregates, today: date) -> dict[str, Any]:
    """What every feed says of each period, kind and parent, and the roll-up by parent."""
    said: dict[str, Any] = {}
    with Session(aggregates.engine) as session:
        for period, kind, parent in product(WEEKS, (None, "commune", "ward", "department"),
                                            PARENTS):
            view = aggregates.view(period, kind, parent)
            key = f"{period}/{kind}/{parent}"
            if parent is None:
                said[f"{key}/parents"] = feeds.by_parent(session, aggregates.directory, view,
                                                         today).model_dump()
            said[key] = feeds.progress(session, aggregates.directory, view,
                                       today).model_dump()
            said[f"{key}/units"] = feeds.unit_table(
                session, aggregates.directory, view, after=None, limit=1000).model_dump()
            said[f"{key}/missing"] = feeds.missing(
                session, aggregates.directory, view, after=None, limit=1000).model_dump()
            said[f"{key}/below"] = feeds.below_target(
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
    live = world(migrated, [u for u in units if u.code != LATE_RECORD])
    at, moved_at = 0, len(arrivals) // 2
    while at < len(arrivals):
        if at >= moved_at:  # half-way: the registry moves units, and the late record comes
            live.add(*moved(units), *(u for u in units if u.code == LATE_RECORD))
            moved_at = len(arrivals)
        size = rng.randint(1, 40)
        live.fold(*arrivals[at:at + size])
        at += size
    final = {u.code: u for u in units} | {u.code: u for u in moved(units)}
    rebuilt = world(migrated, list(final.values()))
    rebuilt.fold(*standing(events).values())

    for today in (date(2026, 1, 22), AFTER_THE_PERIOD, date(2026, 2, 10)):
        assert everything(live, today) == everything(rebuilt, today)

    # and the figures are the events' own: reported, on time, totals per period and parent
    expected_kinds = {"commune", "ward", "department", "press"}
    for period, parent in product(WEEKS, PARENTS):
        mine = [e for (code, p), e in standing(events).items() if p == period
                and e.unit_kind in expected_kinds
                and parent in (None, final[code].parent)]
        progress = live.progress(period, parent=parent)
        assert progress.city.reported == len(mine)
        assert progress.city.on_time == sum(1 for e in mine if e.first_received_at is not None
                                            and e.first_received_at <= e.deadline)
        counted: Counter[str] = Counter()
        for (code, p), e in standing(events).items():
            if p == period and parent in (None, final[code].parent):
                for a in e.activities:
                    counted[a.kind] += a.count
        assert progress.totals.by_activity_kind == {k: n for k, n in sorted(counted.items())
                                                    if n}
        assert progress.missing == progress.city.expected - len(mine) > 0
    # the roll-up: a line per parent, the unparented last, adding up to the whole
    with Session(live.engine) as session:
        rolled = feeds.by_parent(session, live.directory, live.view("2026-W04"),
                                 AFTER_THE_PERIOD)
    assert [i.parent for i in rolled.items] == ["01", "31", None]
    assert [i.name for i in rolled.items] == ["Thành phố Hà Nội", "Thành phố Hải Phòng", None]
    whole = live.progress("2026-W04")
    assert sum(i.all.reported for i in rolled.items) == whole.city.reported
    assert sum(i.all.expected for i in rolled.items) == whole.city.expected
    assert sum(i.units_failing for i in rolled.items) == whole.loudspeaker.units_failing > 0


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


def test_figures_kept_before_parents_move_to_them_when_the_unit_records_come(
        tmp_path) -> None:
    """An aggregator upgraded from before parents: its kept figures stand under no parent,
    and move, with what they count, once the fold reads its units' records."""
    engine = database.make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        for statement in (
                "INSERT INTO period_reports (campaign_code, period, unit_code, unit_kind, "
                "report_id, version, on_time, received_at, period_start, period_end) VALUES "
                "('dai-hoi-xiv', '2026-W04', 'xa-1', 'commune', 'r1', 1, 1, "
                "'2026-01-25 10:00:00.000000', '2026-01-19', '2026-01-25')",
                "INSERT INTO activity_counts (campaign_code, period, unit_code, kind, platform, "
                "format, language, channel, unit_kind, count, people_mobilised, shares) VALUES "
                "('dai-hoi-xiv', '2026-W04', 'xa-1', 'banner', '', '', '', '', 'commune', 4, "
                "0, 0)",
                "INSERT INTO period_figures VALUES ('dai-hoi-xiv', '2026-W04', 'commune', 1, "
                "1, 1)",
                "INSERT INTO period_totals VALUES ('dai-hoi-xiv', '2026-W04', 'commune', "
                "'banner', '', '', '', '', 4, 0, 0)"):
            connection.execute(sa.text(statement))
    database.migrate(engine, MIGRATIONS)
    upgraded = Aggregates(engine)
    upgraded.add(unit("xa-1", parent="31"), unit("xa-2"))
    assert upgraded.progress(parent="31").city.reported == 0  # the record not folded yet
    assert upgraded.progress().city.reported == 1
    upgraded.fold()  # a batch of the unit records alone
    haiphong = upgraded.progress(parent="31")
    assert (haiphong.city.expected, haiphong.city.reported, haiphong.city.on_time) == (1, 1, 1)
    assert haiphong.totals.by_activity_kind == {"banner": 4}
    assert upgraded.progress().city.reported == 1  # moved, not counted twice
    upgraded.add(unit("xa-1", parent="01", revision=2))
    upgraded.fold()
    assert upgraded.progress(parent="31").totals.by_activity_kind == {}
    assert upgraded.progress(parent="01").totals.by_activity_kind == {"banner": 4}
    upgraded.add(unit("xa-1", parent="31", revision=1))  # an old record, delivered again
    upgraded.fold()
    assert upgraded.progress(parent="01").city.reported == 1
