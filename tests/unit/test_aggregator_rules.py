"""The aggregator's rules, fast: report events handed by the runner (an in-memory source) to
the aggregator's handler, folded into a real migrated SQLite database, read back through the
feeds. No broker. Every expected figure is worked out by hand.

The campaign: ISO weeks, due the following Monday 17:00 in Hai Phong (10:00 UTC); one peak
window over week 2026-W04 (19-25 January); communes and wards owe 3 broadcasts a week and 1
a day in the peak window.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from services.aggregator import breaches, feeds, service
from services.aggregator.handlers import ReportFold
from services.aggregator.migrations import MIGRATIONS
from services.aggregator.schemas import FailingUnitPublic, ProgressPublic, RatioPublic
from services.bus.consumer import MemorySource
from services.bus.directory import Directory
from services.events import (
    AGGREGATOR_DEAD_LETTERS,
    REPORTS,
    UNITS,
    CampaignSnapshot,
    KindTargets,
    ReportingPeriod,
    ReportSubmitted,
    UnitSnapshot,
)
from services.events.registry import DeadlineRule, PeakWindow
from tests.handlers import Recorder, run

DEADLINE = datetime(2026, 1, 26, 10, 0, tzinfo=UTC)  # of 2026-W04: Monday 17:00 local
ON_TIME = DEADLINE - timedelta(hours=20)
LATE = DEADLINE + timedelta(hours=3)
AFTER_THE_PERIOD = date(2026, 2, 1)
DUTY = KindTargets(loudspeaker_per_week=3, loudspeaker_per_peak_day=1)
PERIODS = {"2026-W04": (date(2026, 1, 19), date(2026, 1, 25)),
           "2026-W05": (date(2026, 1, 26), date(2026, 2, 1))}


def campaign(starts_on: date = date(2026, 1, 5), ends_on: date = date(2026, 2, 28),
             code: str = "dai-hoi-xiv") -> CampaignSnapshot:
    return CampaignSnapshot(
        code=code, name="Đại hội XIV", starts_on=starts_on, ends_on=ends_on,
        peak_windows=[PeakWindow(starts_on=date(2026, 1, 19), ends_on=date(2026, 1, 25))],
        reporting_period=ReportingPeriod.iso_week, deadline=DeadlineRule(),
        targets={"commune": DUTY, "ward": DUTY, "department": KindTargets(),
                 "press": KindTargets()},
        revision=1, updated_at=datetime(2026, 1, 1, tzinfo=UTC))


def unit(code: str, kind: str = "commune", **fields: Any) -> UnitSnapshot:
    return UnitSnapshot.model_validate({
        "code": code, "name": f"Đơn vị {code}", "kind": kind, "contacts": {}, "channels": {},
        "active_from": "2025-07-01", "revision": 1, "updated_at": "2026-01-01T00:00:00Z",
    } | fields)


def report(unit_code: str, version: int = 1, *, at: datetime = ON_TIME,
           first: datetime | None = None, on_time: bool | None = None,
           kind: str = "commune", period: str = "2026-W04",
           activities: list[dict[str, Any]] | None = None,
           campaign_code: str = "dai-hoi-xiv") -> ReportSubmitted:
    """A report event as intake writes it. `first` is the unit's first reception for the
    period (for version 1, `at` unless given); `on_time` the event's own flag, by default
    what the reporting service would say."""
    first = first if first is not None or version > 1 else at
    start, end = PERIODS[period]
    deadline = datetime.combine(end + timedelta(days=1), time(10), UTC)  # 17:00 local
    return ReportSubmitted.model_validate({
        "report_id": f"{unit_code}-{period}-v{version}", "unit_code": unit_code,
        "unit_kind": kind, "campaign_code": campaign_code, "period": period,
        "period_start": start, "period_end": end, "version": version,
        "supersedes": f"{unit_code}-{period}-v{version - 1}" if version > 1 else None,
        "received_at": at, "first_received_at": first,
        "deadline": deadline,
        "on_time": (first or at) <= deadline if on_time is None else on_time,
        "activities": activities or [{"kind": "banner", "count": 1}]})


def arrivals(events: tuple[ReportSubmitted, ...]) -> list[service.Arrival]:
    """The events as the fold sees messages: key, version, and how to read the rest."""
    return [((e.campaign_code, e.period, e.unit_code), e.version, _reader(e)) for e in events]


def _reader(event: ReportSubmitted) -> Callable[[], ReportSubmitted | None]:
    return lambda: event


class Aggregates:
    """The aggregates on a migrated SQLite database, and the registry read model."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.directory = Directory(campaigns={"dai-hoi-xiv": campaign()})
        self._units: list[UnitSnapshot] = []  # for the fold's next batch

    def add(self, *units: UnitSnapshot) -> None:
        """Units as the registry's topic brings them: to the read model at once, and to the
        fold (which keys the figures by their parents) with its next batch."""
        for u in units:
            self.directory.apply(UNITS.name, u.code, u.model_dump_json().encode())
        self._units += units

    def fold(self, *events: ReportSubmitted | bytes,
             clock: Callable[[], datetime] | None = None) -> list[ReportSubmitted]:
        """One batch, in this order (after the units added since the last), through the
        runner (an in-memory source) and the aggregator's handler (with `clock`, as the live
        service has it); the versions that became standing. Bytes are a message as sent."""
        source = MemorySource()
        for u in self._units:
            source.put(UNITS, u.code, u.model_dump_json().encode())
        self._units = []
        for event in events:
            if isinstance(event, bytes):
                source.put(REPORTS, "raw", event)
            else:
                source.put(REPORTS, event.unit_code, event.model_dump_json().encode())
        handler = Recorder(ReportFold(self.directory, clock=clock))
        run(handler, source, engine=self.engine, dead_letters=AGGREGATOR_DEAD_LETTERS)
        return [event for applied, _ in handler.results for event in applied]

    def progress(self, period: str = "2026-W04", kind: str | None = None,
                 today: date = AFTER_THE_PERIOD, parent: str | None = None) -> ProgressPublic:
        with Session(self.engine) as session:
            return feeds.progress(session, self.directory, self.view(period, kind, parent),
                                  today)

    def view(self, period: str = "2026-W04", kind: str | None = None,
             parent: str | None = None) -> service.Period:
        return service.period_or_raise(self.directory.campaigns, "dai-hoi-xiv", period, kind,
                                       parent)

    def missing(self, period: str = "2026-W04") -> list[str]:
        with Session(self.engine) as session:
            page = feeds.missing(session, self.directory, self.view(period), after=None,
                                 limit=1000)
        assert page.next_cursor is None and page.total == len(page.items)
        return [u.code for u in page.items]

    def below(self, period: str = "2026-W04", today: date = AFTER_THE_PERIOD
              ) -> list[FailingUnitPublic]:
        """Every unit below a loudspeaker target, from the paged feed."""
        with Session(self.engine) as session:
            page = feeds.below_target(session, self.directory, self.view(period), today,
                                      rule=None, after=None, limit=1000)
        assert page.next_cursor is None and page.total == len(page.items)
        return page.items


@pytest.fixture
def aggregates(migrated) -> Iterator[Aggregates]:
    yield Aggregates(migrated(MIGRATIONS))


def ratio(expected: int, reported: int, on_time: int) -> RatioPublic:
    return RatioPublic(expected=expected, reported=reported, on_time=on_time,
                       completeness=round(reported / expected, 4),
                       timeliness=round(on_time / expected, 4))


def broadcasts(days: dict[int, int]) -> list[dict[str, Any]]:
    """A loudspeaker line: broadcasts per day of January 2026."""
    return [{"kind": "loudspeaker_broadcast",
             "daily_counts": {f"2026-01-{day:02d}": n for day, n in days.items()}}]


EVERY_DAY = dict.fromkeys(range(19, 26), 1)


# --- completeness and timeliness ---------------------------------------------------------


def test_completeness_and_timeliness_count_expected_units_per_kind_and_city_wide(
        aggregates) -> None:
    aggregates.add(
        unit("xa-1"), unit("xa-2"), unit("xa-3", active_from="2026-01-24"), unit("xa-4"),
        unit("xa-cu", active_until="2026-01-10"),  # retired before the period
        unit("ph-1", "ward"), unit("ph-2", "ward"), unit("so-1", "department"),
        unit("bao-1", "press"), unit("cong-1", "portal"))  # portals owe this campaign nothing
    aggregates.fold(
        report("xa-1"), report("xa-2", at=LATE), report("xa-3"),
        report("xa-cu"), report("ph-1", kind="ward"), report("so-1", kind="department", at=LATE),
        report("cong-1", kind="portal"))
    progress = aggregates.progress()
    # communes: xa-1..4 expected (xa-3 joined mid-period), xa-1 and xa-3 on time, xa-2 late
    assert progress.by_unit_kind == {
        "commune": ratio(4, 3, 2), "ward": ratio(2, 1, 1), "department": ratio(1, 1, 0),
        "press": RatioPublic(expected=1, reported=0, on_time=0, completeness=0.0,
                             timeliness=0.0)}
    assert progress.city == ratio(8, 5, 3)  # 0.625 and 0.375
    assert progress.missing == 3
    assert aggregates.missing() == ["bao-1", "ph-2", "xa-4"]
    communes = aggregates.progress(kind="commune")
    assert (communes.city, communes.missing, communes.unit_kind) == (ratio(4, 3, 2), 1,
                                                                     "commune")


def test_a_period_with_no_expected_unit_has_no_ratios(aggregates) -> None:
    progress = aggregates.progress()
    assert progress.city == RatioPublic(expected=0, reported=0, on_time=0, completeness=None,
                                        timeliness=None)
    assert progress.by_unit_kind == {} and progress.missing == 0


def test_a_late_revision_of_an_on_time_report_stays_on_time(aggregates) -> None:
    aggregates.add(unit("xa-1"), unit("xa-2"))
    aggregates.fold(report("xa-1"), report("xa-2", at=LATE))
    aggregates.fold(report("xa-1", 2, at=LATE, first=ON_TIME),
                    report("xa-2", 2, at=LATE + timedelta(days=1), first=LATE))
    assert aggregates.progress().city == ratio(2, 2, 1)


# --- loudspeaker compliance --------------------------------------------------------------


def test_loudspeaker_weekly_and_peak_day_targets_name_the_units_weeks_and_days(
        aggregates) -> None:
    aggregates.add(unit("xa-a"), unit("xa-b"), unit("xa-c"), unit("xa-d"), unit("xa-e"),
                   unit("ph-f", "ward"), unit("so-g", "department"))
    aggregates.fold(
        report("xa-a", activities=broadcasts(EVERY_DAY)),  # meets both targets
        report("xa-b", activities=broadcasts({19: 2, 20: 2})),  # 4 a week; 5 quiet days
        report("xa-c", activities=broadcasts({19: 1})),  # 1 a week; 6 quiet days
        report("xa-e", activities=broadcasts(dict.fromkeys(range(19, 26), 5))),  # above band
        report("ph-f", kind="ward", activities=broadcasts(EVERY_DAY)),
        report("so-g", kind="department"))  # not commune-level: never judged
    duty = aggregates.progress().loudspeaker
    assert (duty.units_checked, duty.units_failing, duty.units_below_weekly,
            duty.units_below_daily) == (5, 2, 1, 2)  # xa-a, b, c, e and ph-f judged
    b, c = aggregates.below()
    assert (b.code, b.name, b.kind) == ("xa-b", "Đơn vị xa-b", "commune")
    assert b.weeks_below == []
    assert [(d.day.day, d.broadcasts, d.target) for d in b.days_below] == [
        (day, 0, 1) for day in range(21, 26)]
    assert c.code == "xa-c"
    assert [(w.week, w.broadcasts, w.target) for w in c.weeks_below] == [("2026-W04", 1, 3)]
    assert [d.day.day for d in c.days_below] == list(range(20, 26))


def test_a_unit_that_did_not_report_is_missing_not_below_target(aggregates) -> None:
    aggregates.add(unit("xa-a"), unit("xa-silent"), unit("ph-silent", "ward"))
    aggregates.fold(report("xa-a", activities=broadcasts({19: 1})))
    progress = aggregates.progress()
    assert progress.missing == 2
    assert progress.loudspeaker.units_checked == 1
    assert [f.code for f in aggregates.below()] == ["xa-a"]


def test_days_still_to_come_never_fail_and_a_week_is_judged_once_whole(aggregates) -> None:
    aggregates.add(unit("xa-a"))
    aggregates.fold(report("xa-a", activities=broadcasts({19: 1, 20: 1})))

    def below(today: date) -> tuple[list[str], list[int]]:
        duty = aggregates.progress(today=today).loudspeaker
        listed = aggregates.below(today=today)
        assert duty.units_failing == len(listed)
        if not listed:
            return [], []
        [failing] = listed
        return [w.week for w in failing.weeks_below], [d.day.day for d in failing.days_below]

    assert below(date(2026, 1, 20)) == ([], [])  # Tuesday: nothing missed yet
    assert below(date(2026, 1, 22)) == ([], [21, 22])
    assert below(date(2026, 1, 24)) == ([], [21, 22, 23, 24])  # the week is not over
    assert below(date(2026, 1, 25)) == (["2026-W04"], [21, 22, 23, 24, 25])


def test_outside_a_peak_window_only_the_weekly_target_applies(aggregates) -> None:
    aggregates.add(unit("xa-a"), unit("xa-b"))
    aggregates.fold(
        report("xa-a", period="2026-W05", activities=[{"kind": "loudspeaker_broadcast",
                                                      "daily_counts": {"2026-01-27": 2}}]),
        report("xa-b", period="2026-W05", activities=[{"kind": "loudspeaker_broadcast",
                                                      "daily_counts": {"2026-01-27": 3}}]))
    failing = aggregates.below("2026-W05", today=date(2026, 2, 2))
    assert [(f.code, [(w.week, w.broadcasts) for w in f.weeks_below], f.days_below)
            for f in failing] == [("xa-a", [("2026-W05", 2)], [])]


def test_breaches_judge_the_same_units_as_the_feed(aggregates) -> None:
    week = campaign(date(2026, 1, 19), date(2026, 1, 25), code="mot-tuan")
    aggregates.directory.campaigns = {"mot-tuan": week}
    aggregates.add(unit("xa-a"), unit("xa-silent"))
    aggregates.fold(report("xa-a", campaign_code="mot-tuan",
                           activities=broadcasts({19: 1, 20: 1, 22: 1, 23: 1, 24: 1, 25: 1})))
    now = DEADLINE + timedelta(days=1)
    with Session(aggregates.engine) as session:
        found, _ = breaches.find(session, aggregates.directory, now)
        view = service.Period(week, "2026-W04", *PERIODS["2026-W04"])
        duty = feeds.below_target(session, aggregates.directory, view, date(2026, 1, 27),
                                  rule=None, after=None, limit=10)
    assert sorted((b.rule, b.unit_code, b.breach_id.split("|")[-1]) for b in found) == [
        ("loudspeaker_peak_day", "xa-a", "2026-01-21"),
        ("report_missing", "xa-silent", "2026-W04")]
    assert [f.code for f in duty.items] == ["xa-a"]


# --- totals and coverage -----------------------------------------------------------------


def test_totals_by_activity_kind_and_detail(aggregates) -> None:
    aggregates.add(unit("xa-1"), unit("bao-1", "press"))
    aggregates.fold(
        report("xa-1", activities=[
            {"kind": "social_post", "count": 2, "platform": "zalo", "format": "news"},
            {"kind": "social_post", "count": 1, "platform": "zalo", "format": "video"},
            {"kind": "mobilisation", "count": 1, "people_mobilised": 40, "shares": 120}]),
        report("bao-1", kind="press", activities=[
            {"kind": "article", "count": 5, "channel": "press"},
            {"kind": "foreign_language_item", "count": 2, "language": "en",
             "format": "bulletin"},
            {"kind": "mobilisation", "count": 1, "people_mobilised": 10, "shares": 5}]))
    totals = aggregates.progress().totals
    assert totals.by_activity_kind == {"article": 5, "foreign_language_item": 2,
                                       "mobilisation": 2, "social_post": 3}
    assert totals.by_platform == {"social_post:zalo": 3}
    assert totals.by_format == {"foreign_language_item:bulletin": 2, "social_post:news": 2,
                                "social_post:video": 1}
    assert totals.by_language == {"foreign_language_item:en": 2}
    assert totals.by_channel == {"article:press": 5}
    assert (totals.people_mobilised, totals.shares) == (50, 125)


def test_coverage_of_the_four_platforms_and_languages_city_wide_and_per_kind(
        aggregates) -> None:
    aggregates.add(unit("xa-1"), unit("bao-1", "press"), unit("so-1", "department"))
    aggregates.fold(
        report("xa-1", activities=[
            {"kind": "social_post", "count": 1, "platform": "facebook", "format": "video"},
            {"kind": "social_post", "count": 0, "platform": "zalo", "format": "news"},
            {"kind": "foreign_language_item", "count": 1, "language": "zh",
             "format": "programme"}]),
        report("bao-1", kind="press", activities=[
            {"kind": "social_post", "count": 3, "platform": "tiktok", "format": "video"},
            {"kind": "foreign_language_item", "count": 1, "language": "en", "format": "article"},
            {"kind": "foreign_language_item", "count": 1, "language": "ko",
             "format": "bulletin"}]),
        report("so-1", kind="department"))  # a banner only: no platform, no language
    coverage = {scope: (c.platforms.model_dump(), c.languages.model_dump())
                for scope, c in aggregates.progress().coverage.items()}
    no = dict.fromkeys(("facebook", "zalo", "youtube", "tiktok"), False)
    none = dict.fromkeys(("en", "zh", "ja", "ko"), False)
    assert coverage == {
        "city": (no | {"facebook": True, "tiktok": True}, none | {"en": True, "zh": True,
                                                                 "ko": True}),
        "commune": (no | {"facebook": True}, none | {"zh": True}),  # zalo: a count of 0
        "press": (no | {"tiktok": True}, none | {"en": True, "ko": True})}


# --- revisions and duplicates ------------------------------------------------------------


def test_a_revision_replaces_what_its_predecessor_counted(aggregates) -> None:
    aggregates.add(unit("xa-1"))
    aggregates.fold(report("xa-1", activities=[
        {"kind": "social_post", "count": 5, "platform": "facebook", "format": "video"},
        *broadcasts(EVERY_DAY)]))
    aggregates.fold(report("xa-1", 2, at=LATE, first=ON_TIME, activities=[
        {"kind": "social_post", "count": 2, "platform": "facebook", "format": "video"},
        {"kind": "social_post", "count": 1, "platform": "zalo", "format": "news"},
        {"kind": "foreign_language_item", "count": 2, "language": "ja", "format": "bulletin"},
        *broadcasts({19: 3})]))
    progress = aggregates.progress()
    assert progress.totals.by_activity_kind == {
        "foreign_language_item": 2, "loudspeaker_broadcast": 3, "social_post": 3}
    assert progress.totals.by_platform == {"social_post:facebook": 2, "social_post:zalo": 1}
    assert progress.coverage["city"].languages.ja is True
    [failing] = aggregates.below()  # 3 in the week, but only on the 19th
    assert failing.weeks_below == [] and [d.day.day for d in failing.days_below] == [
        20, 21, 22, 23, 24, 25]
    with Session(aggregates.engine) as session:
        mine = feeds.unit_progress(session, aggregates.directory.units["xa-1"], "dai-hoi-xiv")
    assert [(p.period, p.version, p.on_time, p.received_at) for p in mine.periods] == [
        ("2026-W04", 2, True, LATE)]
    assert mine.totals.by_activity_kind["social_post"] == 3


def test_duplicates_and_older_versions_are_counted_once(aggregates) -> None:
    aggregates.add(unit("xa-1"))
    v1 = report("xa-1", activities=[{"kind": "banner", "count": 1}])
    v2 = report("xa-1", 2, first=ON_TIME, activities=[{"kind": "banner", "count": 4}])
    v3 = report("xa-1", 3, first=ON_TIME, activities=[{"kind": "banner", "count": 4},
                                                      {"kind": "portal_column", "count": 1}])
    assert aggregates.fold(v1, v1) == [v1]
    assert aggregates.fold(v1) == []  # redelivered
    assert aggregates.fold(v2, v1, v2) == [v2]
    assert aggregates.progress().totals.by_activity_kind == {"banner": 4}
    assert aggregates.fold(v3, v2, v3) == [v3]
    assert aggregates.fold(v1, v2) == []
    progress = aggregates.progress()
    assert progress.totals.by_activity_kind == {"banner": 4, "portal_column": 1}
    assert progress.city == ratio(1, 1, 1)


def test_progress_changes_carry_the_new_figures_of_each_period_touched(aggregates) -> None:
    aggregates.add(unit("xa-1"), unit("xa-2"))
    applied = aggregates.fold(report("xa-1"), report("xa-2", period="2026-W05"))
    with Session(aggregates.engine) as session:
        changes = feeds.changes(session, aggregates.directory, applied)
    assert [(c.period, c.units, c.city.reported, c.city.completeness) for c in changes] == [
        ("2026-W04", ["xa-1"], 1, 0.5), ("2026-W05", ["xa-2"], 1, 0.5)]
    assert changes[0].by_unit_kind["commune"].on_time == 1
