"""The compiled report's figures: a campaign over a span of its periods, as of a stated
time. They are worked out from the report versions recorded by then (models.ReportVersion),
by the same rules as the feeds (service.py), so that asking again for the same `as_of`
gives the same figures however many reports and revisions came after, and the figures of a
period equal its feeds' when nothing came after."""

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from services import periods
from services.aggregator import feeds, service, store
from services.aggregator.schemas import (
    CoveragePublic,
    LoudspeakerPublic,
    RatioPublic,
    TotalsPublic,
)
from services.bus.directory import Directory
from services.events import COMMUNE_LEVEL, CampaignSnapshot, ReportSubmitted, UnitSnapshot
from services.memory import collector_paused
from services.refusals import Invalid, Unavailable

_EVENT: TypeAdapter[ReportSubmitted] = TypeAdapter(ReportSubmitted)


@dataclass(slots=True)
class Count:
    """A count row of one report (service.CountRow)."""

    unit_kind: str
    kind: str
    platform: str
    format: str
    language: str
    channel: str
    count: int
    people_mobilised: int
    shares: int


@dataclass(frozen=True)
class Standing:
    """A unit's report for a period as it stood at `as_of`."""

    event: ReportSubmitted
    on_time: bool
    counts: list[Count]
    loudspeaker: int | None  # broadcasts over the period; None: no duty
    below: service.Verdict  # as of the report's day (see PeriodFigures.below)


@dataclass(frozen=True)
class PeriodFigures:
    """One period as of `as_of`: what the period feed (/v1/progress) shows, and its units."""

    period: periods.Period
    state: str  # upcoming, open (deadline to come) or due
    ratios: service.Ratios
    totals: TotalsPublic
    coverage: dict[str, CoveragePublic]
    loudspeaker: LoudspeakerPublic
    missing: list[UnitSnapshot]  # expected, no report
    late: list[tuple[UnitSnapshot, datetime]]  # expected, first report after the deadline
    below: list["Below"]  # the reported units below a target as of as_of, by code
    entered: int  # standing reports entered on the unit's behalf


@dataclass(frozen=True)
class Below:
    """A unit below a loudspeaker target in a period, judged on the days up to as_of."""

    code: str
    weekly: bool  # a whole week under the weekly target
    peak_day: bool  # a peak day under the daily target


@dataclass
class UnitLine:
    """A unit over the span: the annex table's line."""

    unit: UnitSnapshot
    expected: int = 0  # periods due (reported, on_time and missing: of those)
    reported: int = 0
    on_time: int = 0
    activities: Counter[str] = field(default_factory=Counter)
    loudspeaker: int | None = None
    periods_below: int = 0  # reported periods below a loudspeaker target as of as_of
    missing: list[str] = field(default_factory=list)  # periods
    entered_by: set[str] = field(default_factory=set)

    @property
    def late(self) -> int:
        return self.reported - self.on_time


@dataclass(frozen=True)
class Compiled:
    """The campaign over the span, as of `as_of`."""

    campaign: CampaignSnapshot
    start: date
    end: date
    as_of: datetime
    periods: list[PeriodFigures]
    city: RatioPublic  # over the periods due and their expected units: unit-periods
    by_unit_kind: dict[str, RatioPublic]
    totals: TotalsPublic
    coverage: dict[str, CoveragePublic]
    units: list[UnitLine]  # by kind and code


def compile_report(session: Session, directory: Directory, campaign: CampaignSnapshot,
                   start: date | None, end: date | None, as_of: datetime) -> Compiled:
    """The campaign's figures over the periods touching [start, end] that had begun by
    `as_of`, counting the report versions recorded by then."""
    first, last = _span(campaign, start, end)
    covered = [p for p in periods.of_campaign(campaign, first, last)
               if p.start <= periods.local_day(as_of)]
    expected = {p.name: _expected(directory, campaign, p, periods.local_day(as_of))
                for p in covered}
    with collector_paused():  # every version decoded and judged (services.memory)
        standing = _standing(session, campaign, as_of, set(expected))
        figures = [_period(p, expected[p.name], standing.get(p.name, {}), as_of)
                   for p in covered]
        lines = _annex(figures, expected, standing, periods.local_day(as_of))
    every = [c for by_unit in standing.values() for s in by_unit.values() for c in s.counts]
    due = [f for f in figures if f.state == "due"]  # the obligations fallen due
    return Compiled(campaign, first, last, as_of, figures, _sum([f.ratios.city for f in due]),
                    {kind: _sum([f.ratios.by_unit_kind[kind] for f in due
                                 if kind in f.ratios.by_unit_kind])
                     for kind in sorted({k for f in due for k in f.ratios.by_unit_kind})},
                    service.totals(every), service.coverage(every), lines)


def _span(campaign: CampaignSnapshot, start: date | None, end: date | None
          ) -> tuple[date, date]:
    first, last = start or campaign.starts_on, end or campaign.ends_on
    if last < first:
        raise Invalid.on("to", "to_before_from", f"the span ends ({last}) before it "
                         f"begins ({first})")
    if last < campaign.starts_on or first > campaign.ends_on:
        raise Invalid.on("from", "outside_campaign", f"campaign {campaign.code} runs from "
                         f"{campaign.starts_on} to {campaign.ends_on}")
    return max(first, campaign.starts_on), min(last, campaign.ends_on)


def _standing(session: Session, campaign: CampaignSnapshot, as_of: datetime,
              names: set[str]) -> dict[str, dict[str, Standing]]:
    """Per period and unit, the newest readable version recorded by `as_of`, judged."""
    if store.versions_missing(session, campaign.code):
        raise Unavailable("report_history_incomplete", "reports folded before this version "
                          "kept every version are not in the history yet: run "
                          "`python -m services.aggregator.rebuild` once")
    found: dict[str, dict[str, Standing]] = {}
    for period, unit, raw in store.versions_as_of(session, campaign.code, as_of):
        if period not in names or unit in found.setdefault(period, {}):
            continue
        try:
            event = _EVENT.validate_json(raw)
        except ValidationError:  # a dead letter of the fold's: the version before stands
            continue
        found[period][unit] = _judged(campaign, event)
    return found


def _judged(campaign: CampaignSnapshot, event: ReportSubmitted) -> Standing:
    counts = [Count(event.unit_kind, kind, platform, format, language, channel, *figures)
              for (kind, platform, format, language, channel), figures
              in service.counts_of(event).items()]
    daily = service.daily_of(event)
    duty = event.unit_kind in COMMUNE_LEVEL
    return Standing(event, service.timeliness(event, None).on_time, counts,
                    sum(daily.values()) if duty else None,
                    service.verdict(campaign, event.unit_kind, daily, event.period_start,
                                    event.period_end))


def _period(period: periods.Period, expected: feeds.Expected, standing: dict[str, Standing],
            as_of: datetime) -> PeriodFigures:
    """A period's figures as its feed would have shown them at `as_of`."""
    today = periods.local_day(as_of)
    # As the feed counts (feeds.ratios): each report under the kind it was sent as, those
    # of the units the period does not expect taken out.
    outside = set(expected.outside)
    kept: dict[str, tuple[int, int]] = {}
    for code, report in standing.items():
        if code not in outside:
            reported, on_time = kept.get(report.event.unit_kind, (0, 0))
            kept[report.event.unit_kind] = (reported + 1, on_time + report.on_time)
    ratios = feeds.ratios_of(expected.per_kind, kept, {})
    judged = (Below(code, _fails(s.below.weekly_fails_on, today),
                    _fails(s.below.daily_fails_on, today)) for code, s in sorted(standing.items()))
    below = [b for b in judged if b.weekly or b.peak_day]
    rows = [c for s in standing.values() for c in s.counts]
    return PeriodFigures(
        period=period,
        state="upcoming" if period.start > today else
              "due" if period.deadline < as_of else "open",
        ratios=ratios, totals=service.totals(rows), coverage=service.coverage(rows),
        loudspeaker=LoudspeakerPublic(
            units_checked=sum(r.reported for kind, r in ratios.by_unit_kind.items()
                              if kind in COMMUNE_LEVEL),
            units_failing=len(below),
            units_below_weekly=sum(b.weekly for b in below),
            units_below_daily=sum(b.peak_day for b in below)),
        missing=[expected.units[c] for c in expected.by_code if c not in standing],
        late=[(expected.units[c], _first(standing[c].event)) for c in expected.by_code
              if c in standing and not standing[c].on_time],
        below=below, entered=sum(s.event.entered_by is not None for s in standing.values()))


def _fails(day: date | None, today: date) -> bool:
    return day is not None and day <= today


def _first(event: ReportSubmitted) -> datetime:
    return event.first_received_at or event.received_at


def _annex(figures: list[PeriodFigures], expected: dict[str, feeds.Expected],
           standing: dict[str, dict[str, Standing]], today: date) -> list[UnitLine]:
    """Every unit expected in some period of the span: what it owed in the periods due and
    whether it reported, and what it did in every period (the one open included)."""
    lines: dict[str, UnitLine] = {}
    for period in figures:
        name = period.period.name
        reports = standing.get(name, {})
        for code, unit in expected[name].units.items():
            line = lines.setdefault(code, UnitLine(unit))
            report = reports.get(code)
            if period.state == "due":
                line.expected += 1
                if report is None:
                    line.missing.append(name)
                else:
                    line.reported += 1
                    line.on_time += report.on_time
            if report is not None:
                _add(line, report, today)
    return sorted(lines.values(), key=lambda line: (line.unit.kind, line.unit.code))


def _expected(directory: Directory, campaign: CampaignSnapshot, period: periods.Period,
              today: date) -> feeds.Expected:
    """The period's expected units as its feed has them, less those whose reporting began
    after `today` (as_of's day): a unit added to the registry later, with its first day
    after the stated time, was not yet expected then."""
    found = feeds.expected(directory, service.Period(campaign, period.name, period.start,
                                                     period.end))
    later = {code for code, u in found.units.items() if u.active_from > today}
    if not later:
        return found
    units = {code: u for code, u in found.units.items() if code not in later}
    return dataclasses.replace(
        found, units=units, by_code=[c for c in found.by_code if c in units],
        by_kind=[(k, c) for k, c in found.by_kind if c in units],
        per_kind=dict(Counter(u.kind for u in units.values())),
        outside=[*found.outside, *later])


def _add(line: UnitLine, report: Standing, today: date) -> None:
    for count in report.counts:
        line.activities[count.kind] += count.count
    if report.loudspeaker is not None:
        line.loudspeaker = (line.loudspeaker or 0) + report.loudspeaker
    line.periods_below += any(_fails(day, today) for day in report.below)
    if report.event.entered_by is not None:
        line.entered_by.add(report.event.entered_by.label)


def _sum(ratios: Iterable[RatioPublic]) -> RatioPublic:
    listed = list(ratios)
    return feeds.ratio_of(sum(r.expected for r in listed), sum(r.reported for r in listed),
                        sum(r.on_time for r in listed))
