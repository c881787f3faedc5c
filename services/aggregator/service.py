"""The aggregator's decisions: which report version counts, when a unit was on time, and
what the feeds say."""

from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from services import periods
from services.aggregator import store
from services.aggregator.models import ActivityCount
from services.aggregator.schemas import (
    CoveragePublic,
    DayBelowPublic,
    FailingUnitPublic,
    LanguageCoverage,
    LoudspeakerPublic,
    PlatformCoverage,
    RatioPublic,
    TotalsPublic,
    WeekBelowPublic,
)
from services.database import raw_in
from services.events import (
    COMMUNE_LEVEL,
    ActivityKind,
    CampaignSnapshot,
    KindTargets,
    ReportingPeriod,
    ReportSubmitted,
    UnitSnapshot,
)
from services.events.reports import LoudspeakerBroadcast, Mobilisation
from services.refusals import Invalid, NotFound

DETAILS = ("platform", "format", "language", "channel")
ACTIVITY_KINDS = tuple(kind.value for kind in ActivityKind)


Arrival = tuple[store.Key, int, Callable[[], ReportSubmitted | None]]
"""A report message as ordering sees it: its key and version, and how to read the rest
(None when it cannot be read: the reader has dead-lettered it)."""


def fold(session: Session, arrivals: Iterable[Arrival]) -> list[ReportSubmitted]:
    """Make each key's newest readable version the standing one, where it is newer.

    Idempotent: a duplicate or an older version changes nothing, whatever the order of
    arrival. Only a version that can still count is read in full, so one superseded within
    the batch is skipped unread, as a duplicate is; an unreadable newest version gives way to
    the next. A revision replaces all that its predecessor contributed, but not when the
    unit first reported (see `timeliness`). Returns the versions that became standing."""
    found: dict[store.Key, list[tuple[int, Callable[[], ReportSubmitted | None]]]] = {}
    for key, version, read in arrivals:
        found.setdefault(key, []).append((version, read))
    standing = store.standing(session, set(found))
    winners: list[tuple[ReportSubmitted, Timeliness]] = []
    for key, versions in found.items():
        before = standing.get(key)
        event = _newest_readable(versions, before.version if before else 0)
        if event is not None:
            winners.append((event, timeliness(event, before)))
    if winners:
        store.replace(raw_in(session), *_rows(winners))
    return [event for event, _ in winners]


def _newest_readable(versions: list[tuple[int, Callable[[], ReportSubmitted | None]]],
                     standing: int) -> ReportSubmitted | None:
    versions.sort(key=lambda v: -v[0])  # stable: of equal versions, the first to arrive
    for version, read in versions:
        if version <= standing:
            return None
        event = read()
        if event is not None:
            return event
    return None


@dataclass(frozen=True)
class Timeliness:
    """When a unit first reported for a period, and whether that was by the deadline."""

    first_received_at: datetime | None
    on_time: bool


def timeliness(event: ReportSubmitted, before: store.Standing | None) -> Timeliness:
    """A unit is on time for a period when its first report arrived at or before the
    deadline; a late revision of an on-time report stays on time.

    The first reception is the earliest seen: the event's `first_received_at` (for a version
    1, its `received_at`) or the one stored. A revision from before that field existed tells
    nothing of the first report; if no first reception is known either, its own `on_time`
    counts, or the stored one's: any version received in time means the first one was."""
    own = event.first_received_at or (event.received_at if event.version == 1 else None)
    known = [t for t in (own, before.first_received_at if before else None) if t is not None]
    if known:
        first = min(known)
        return Timeliness(first, first <= event.deadline)
    return Timeliness(None, event.on_time or bool(before and before.on_time))


def _rows(winners: Iterable[tuple[ReportSubmitted, Timeliness]]
          ) -> tuple[list[tuple[Any, ...]], ...]:
    """Rows for store.replace: each event's head, its counts and its days."""
    heads: list[tuple[Any, ...]] = []
    counts: list[tuple[Any, ...]] = []
    days: list[tuple[Any, ...]] = []
    for e, judged in winners:
        heads.append((e.campaign_code, e.period, e.unit_code, e.unit_kind, e.report_id,
                      e.version, judged.on_time, e.received_at, judged.first_received_at,
                      e.period_start, e.period_end))
        counts += [(e.campaign_code, e.period, e.unit_code, *key, e.unit_kind, *figures)
                   for key, figures in _counts(e).items()]
        days += [(e.campaign_code, e.unit_code, day, e.period, n)
                 for day, n in _daily(e).items()]
    return heads, counts, days


def _counts(event: ReportSubmitted) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """Count, people mobilised and shares by kind, platform, format, language and channel."""
    totals: dict[tuple[str, ...], tuple[int, int, int]] = {}
    for activity in event.activities:
        fields = type(activity).model_fields
        key = (activity.kind, *(str(getattr(activity, name) or "") if name in fields else ""
                                for name in DETAILS))
        people, shares = ((activity.people_mobilised, activity.shares)
                          if isinstance(activity, Mobilisation) else (0, 0))
        count, people_before, shares_before = totals.get(key, (0, 0, 0))
        totals[key] = (count + activity.count, people_before + people, shares_before + shares)
    return totals


def _daily(event: ReportSubmitted) -> Counter[date]:
    days: Counter[date] = Counter()
    for activity in event.activities:
        if isinstance(activity, LoudspeakerBroadcast):
            days.update(activity.daily_counts)
    return days


# --- feeds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One period of a campaign, optionally narrowed to one unit kind."""

    campaign: CampaignSnapshot
    name: str
    start: date
    end: date
    kind: str | None = None


def campaign_or_raise(campaigns: Mapping[str, CampaignSnapshot], code: str
                      ) -> CampaignSnapshot:
    """The campaign of that code; NotFound if the registry has none."""
    campaign = campaigns.get(code)
    if campaign is None:
        raise NotFound.on("campaign", "campaign_unknown", f"no campaign with code {code!r}")
    return campaign


def period_or_raise(campaigns: Mapping[str, CampaignSnapshot], code: str, name: str,
                    kind: str | None = None) -> Period:
    """A period of a known campaign; Invalid if the name is not one of its periods."""
    campaign = campaign_or_raise(campaigns, code)
    try:
        start, end = periods.bounds(name, campaign.reporting_period)
    except periods.PeriodError as exc:
        raise Invalid.on("period", "period_format", str(exc)) from None
    return Period(campaign, name, start, end, kind)


def due_periods(campaign: CampaignSnapshot, now: datetime
                ) -> Iterator[tuple[str, date, date, datetime]]:
    """The campaign's periods whose deadline has passed, one step a period; none that
    starts after today (its deadline is later still, in any zone)."""
    day = campaign.starts_on
    last = min(campaign.ends_on, now.date() + timedelta(days=1))
    while day <= last:
        name = periods.name_of(day, campaign.reporting_period)
        start, end = periods.bounds(name, campaign.reporting_period)
        deadline = periods.deadline(end, campaign.deadline)
        if deadline < now:
            yield name, start, end, deadline
        day = end + timedelta(days=1)


def expected_units(units: Iterable[UnitSnapshot], campaign: CampaignSnapshot, start: date,
                   end: date, kind: str | None = None) -> dict[str, UnitSnapshot]:
    """Active at some point in the period and of a kind the campaign expects reports from."""
    return {
        u.code: u for u in list(units)  # a copy at once: the registry follower may add more
        if (kind is None or u.kind == kind)
        and u.kind in campaign.targets and campaign.targets[u.kind].reports_each_period
        and u.active_from <= end and (u.active_until is None or u.active_until >= start)
    }


@dataclass(frozen=True)
class Ratios:
    """Completeness and timeliness of a period, city-wide and per unit kind."""

    city: RatioPublic
    by_unit_kind: dict[str, RatioPublic]


def ratios(expected: dict[str, UnitSnapshot], reported: dict[str, bool]) -> Ratios:
    """Completeness and timeliness, per unit kind and city-wide."""
    kinds = sorted({u.kind for u in expected.values()})
    return Ratios(city=_ratio(list(expected), reported), by_unit_kind={
        kind: _ratio([c for c, u in expected.items() if u.kind == kind], reported)
        for kind in kinds})


def _ratio(codes: list[str], reported: dict[str, bool]) -> RatioPublic:
    done = [c for c in codes if c in reported]
    on_time = [c for c in done if reported[c]]
    total = len(codes)
    return RatioPublic(expected=total, reported=len(done), on_time=len(on_time),
                       completeness=round(len(done) / total, 4) if total else None,
                       timeliness=round(len(on_time) / total, 4) if total else None)


def totals(rows: Iterable[ActivityCount]) -> TotalsPublic:
    """Totals by activity kind, with the platform, format, language and channel breakdowns."""
    by_kind: Counter[str] = Counter()
    breakdown: dict[str, Counter[str]] = {name: Counter() for name in DETAILS}
    people = shares = 0
    for row in rows:
        by_kind[row.kind] += row.count
        for name in DETAILS:
            if getattr(row, name):
                breakdown[name][f"{row.kind}:{getattr(row, name)}"] += row.count
        people, shares = people + row.people_mobilised, shares + row.shares
    return TotalsPublic(
        by_activity_kind=dict(sorted(by_kind.items())),
        **{f"by_{name}": dict(sorted(counter.items())) for name, counter in breakdown.items()},
        people_mobilised=people, shares=shares)


def judged_units(expected: dict[str, UnitSnapshot], reported: Container[str]
                 ) -> dict[str, UnitSnapshot]:
    """The units whose loudspeaker duty is judged: expected commune-level units that
    reported. One that did not report is missing, and counted as that alone."""
    return {code: unit for code, unit in expected.items()
            if unit.kind in COMMUNE_LEVEL and code in reported}


def compliance(expected: dict[str, UnitSnapshot], reported: Container[str],
               campaign: CampaignSnapshot, broadcasts: dict[str, dict[date, int]],
               start: date, end: date, today: date) -> LoudspeakerPublic:
    """Loudspeaker duty of the judged units (see `judged_units`): each ISO week of the
    period against the weekly target, each peak-window day against the daily target. Days
    after `today` cannot fail yet; more than the target is never a breach."""
    judged = judged_units(expected, reported)
    failing = []
    for code, unit in sorted(judged.items()):
        verdict = _unit_compliance(unit, campaign.targets.get(unit.kind) or KindTargets(),
                                   campaign, broadcasts.get(code, {}), start, min(end, today))
        if verdict.weeks_below or verdict.days_below:
            failing.append(verdict)
    return LoudspeakerPublic(
        units_checked=len(judged), units_failing=len(failing),
        units_below_weekly=sum(1 for f in failing if f.weeks_below),
        units_below_daily=sum(1 for f in failing if f.days_below), failing=failing)


def _unit_compliance(unit: UnitSnapshot, targets: KindTargets, campaign: CampaignSnapshot,
                     days: dict[date, int], start: date, last: date) -> FailingUnitPublic:
    weekly, daily = targets.loudspeaker_per_week, targets.loudspeaker_per_peak_day
    weeks = [(monday, sum(days.get(monday + timedelta(d), 0) for d in range(7)))
             for monday in _whole_weeks(start, last)]
    return FailingUnitPublic(
        code=unit.code, name=unit.name, kind=unit.kind,
        weeks_below=[] if weekly is None else [
            WeekBelowPublic(week=periods.name_of(monday, ReportingPeriod.iso_week),
                            broadcasts=total, target=weekly)
            for monday, total in weeks if total < weekly],
        days_below=[] if daily is None else [
            DayBelowPublic(day=day, broadcasts=days.get(day, 0), target=daily)
            for day in _peak_days(campaign, start, last) if days.get(day, 0) < daily])


def _whole_weeks(start: date, last: date) -> list[date]:
    """Mondays of the ISO weeks that lie wholly between start and last."""
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    weeks = []
    while monday + timedelta(days=6) <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _peak_days(campaign: CampaignSnapshot, start: date, last: date) -> list[date]:
    days = set()
    for window in campaign.peak_windows:
        day = max(start, window.starts_on)
        while day <= min(last, window.ends_on):
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


PLATFORMS = tuple(PlatformCoverage.model_fields)
LANGUAGES = tuple(LanguageCoverage.model_fields)


def coverage(rows: Iterable[ActivityCount]) -> dict[str, CoveragePublic]:
    """Which of the four platforms and four languages the city and each unit kind covered
    (a unit kind appears once it posted on a platform or in a language)."""
    seen: dict[str, set[str]] = defaultdict(set, city=set())
    for row in rows:
        if row.count <= 0:
            continue
        for scope in ("city", row.unit_kind):
            if row.platform:
                seen[scope].add(f"platform:{row.platform}")
            if row.language:
                seen[scope].add(f"language:{row.language}")
    return {scope: CoveragePublic(
        platforms=PlatformCoverage(**{p: f"platform:{p}" in found for p in PLATFORMS}),
        languages=LanguageCoverage(**{lang: f"language:{lang}" in found for lang in LANGUAGES}))
        for scope, found in sorted(seen.items())}
