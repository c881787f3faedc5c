"""The aggregator's decisions: which report version counts, when a unit was on time, and
what the feeds say."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple, Protocol, cast

from sqlmodel import Session

from services import periods
from services.aggregator import store
from services.aggregator.schemas import (
    CoveragePublic,
    DayBelowPublic,
    FailingUnitPublic,
    LanguageCoverage,
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
    UnitKind,
    UnitSnapshot,
)
from services.events.reports import LoudspeakerBroadcast, Mobilisation
from services.refusals import Invalid, NotFound

DETAILS = ("platform", "format", "language", "channel")
ACTIVITY_KINDS = tuple(kind.value for kind in ActivityKind)


Arrival = tuple[store.Key, int, Callable[[], ReportSubmitted | None]]
"""A report message as ordering sees it: its key and version, and how to read the rest
(None when it cannot be read: the reader has dead-lettered it)."""


def fold(session: Session, arrivals: Iterable[Arrival],
         campaigns: Mapping[str, CampaignSnapshot] | None = None) -> list[ReportSubmitted]:
    """Make each key's newest readable version the standing one, where it is newer.

    Idempotent: a duplicate or an older version changes nothing, whatever the order of
    arrival. Only a version that can still count is read in full, so one superseded within
    the batch is skipped unread, as a duplicate is; an unreadable newest version gives way to
    the next. A revision replaces all that its predecessor contributed, but not when the
    unit first reported (see `timeliness`), and the kept figures change by the difference
    in the same transaction. Loudspeaker verdicts are judged against `campaigns` (a report
    of a campaign not known yet is judged later, see `rejudge`). Returns the versions that
    became standing."""
    found: dict[store.Key, list[tuple[int, Callable[[], ReportSubmitted | None]]]] = {}
    for key, version, read in arrivals:
        found.setdefault(key, []).append((version, read))
    standing = store.standing(session, set(found))
    winners: list[tuple[ReportSubmitted, Timeliness]] = []
    replaced: dict[store.Key, store.Standing] = {}
    for key, versions in found.items():
        before = standing.get(key)
        event = _newest_readable(versions, before.version if before else 0)
        if event is not None:
            winners.append((event, timeliness(event, before)))
            if before is not None:
                replaced[key] = before
    if winners:
        heads, counts, days = _rows(winners, campaigns or {})
        db = raw_in(session)
        figures, totals = _differences(heads, counts, replaced,
                                       store.standing_counts(session, set(replaced)))
        store.replace(db, heads, counts, days)
        store.shift(db, figures, totals)
    return [event for event, _ in winners]


# A head row's key, kind and timeliness; a count row as a TOTAL_KEY + TOTAL_FIGURES row.
_HEAD_FIGURES = itemgetter(*(store.HEAD_COLUMNS.index(name) for name in (
    "campaign_code", "period", "unit_code", "unit_kind", "on_time")))
_AS_TOTAL = itemgetter(*(store.COUNT_COLUMNS.index(name)
                         for name in store.TOTAL_KEY + store.TOTAL_FIGURES))


def _differences(heads: list[tuple[Any, ...]], counts: list[tuple[Any, ...]],
                 replaced: Mapping[store.Key, store.Standing],
                 replaced_counts: list[tuple[Any, ...]]
                 ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """How the kept figures change: the new standing reports' rows counted in, those they
    replace counted out. Rows for store.shift."""
    figures: dict[tuple[str, str, str], list[int]] = {}
    for campaign, period, unit, kind, on_time in map(_HEAD_FIGURES, heads):
        figure = figures.setdefault((campaign, period, kind), [0, 0])
        figure[0], figure[1] = figure[0] + 1, figure[1] + bool(on_time)
        before = replaced.get((campaign, period, unit))
        if before is not None:
            old = figures.setdefault((campaign, period, before.unit_kind), [0, 0])
            old[0], old[1] = old[0] - 1, old[1] - before.on_time
    totals: dict[tuple[Any, ...], list[int]] = {}
    keyed = len(store.TOTAL_KEY)
    for sign, rows in ((1, map(_AS_TOTAL, counts)), (-1, iter(replaced_counts))):
        for row in rows:  # TOTAL_KEY + TOTAL_FIGURES
            total = totals.setdefault(tuple(row[:keyed]), [0, 0, 0])
            for at, value in enumerate(row[keyed:]):
                total[at] += sign * value
    return ([(*key, *figure) for key, figure in figures.items()],
            [(*key, *total) for key, total in totals.items()])


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


def _rows(winners: Iterable[tuple[ReportSubmitted, Timeliness]],
          campaigns: Mapping[str, CampaignSnapshot]) -> tuple[list[tuple[Any, ...]], ...]:
    """Rows for store.replace: each event's head, its counts and its days."""
    heads: list[tuple[Any, ...]] = []
    counts: list[tuple[Any, ...]] = []
    days: list[tuple[Any, ...]] = []
    for e, judged in winners:
        daily = _daily(e)
        campaign = campaigns.get(e.campaign_code)
        found = None if campaign is None else verdict(campaign, e.unit_kind, daily,
                                                      e.period_start, e.period_end)
        heads.append((e.campaign_code, e.period, e.unit_code, e.unit_kind, e.report_id,
                      e.version, judged.on_time, e.received_at, judged.first_received_at,
                      e.period_start, e.period_end, sum(daily.values()),
                      *(found or Verdict(None, None)),
                      None if campaign is None else campaign.revision))
        counts += [(e.campaign_code, e.period, e.unit_code, *key, e.unit_kind, *figures)
                   for key, figures in _counts(e).items()]
        days += [(e.campaign_code, e.unit_code, day, e.period, n) for day, n in daily.items()]
    return heads, counts, days


class Verdict(NamedTuple):
    """When a unit's loudspeaker duty for a period first fails: the last day of the first
    whole week below the weekly target, the first peak-window day below the daily target
    (None: it does not). As of a day, the unit is below a target when that day has come."""

    weekly_fails_on: date | None
    daily_fails_on: date | None


def verdict(campaign: CampaignSnapshot, unit_kind: str, days: Mapping[date, int],
            start: date, end: date) -> Verdict:
    """The loudspeaker verdict of a unit's report for a period (see `below_target`: the
    same rule, judged for every day of the period at once)."""
    if unit_kind not in COMMUNE_LEVEL:
        return Verdict(None, None)
    targets = targets_of(campaign, unit_kind)
    weekly, daily = targets.loudspeaker_per_week, targets.loudspeaker_per_peak_day
    weeks, peak_days = calendar(campaign, start, end)
    week_fails = None if weekly is None else next(
        (week[-1] for week in weeks if sum(days.get(d, 0) for d in week) < weekly), None)
    day_fails = None if daily is None else next(
        (day for day in peak_days if days.get(day, 0) < daily), None)
    return Verdict(week_fails, day_fails)


def calendar(campaign: CampaignSnapshot, start: date, last: date
             ) -> tuple[list[tuple[date, ...]], list[date]]:
    """The whole ISO weeks (their seven days) and the peak-window days between `start` and
    `last`: what a loudspeaker duty is judged on."""
    return _calendar(start, last, tuple((w.starts_on, w.ends_on)
                                        for w in campaign.peak_windows))


@lru_cache(maxsize=1024)
def _calendar(start: date, last: date, windows: tuple[tuple[date, date], ...]
              ) -> tuple[list[tuple[date, ...]], list[date]]:
    """Made once per span: the fold judges thousands of reports of the same period."""
    weeks = []
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    while monday + timedelta(days=6) <= last:
        weeks.append(tuple(monday + timedelta(days=d) for d in range(7)))
        monday += timedelta(days=7)
    span = (start + timedelta(days=d) for d in range((last - start).days + 1))
    return weeks, [day for day in span if any(a <= day <= b for a, b in windows)]


def targets_of(campaign: CampaignSnapshot, unit_kind: str) -> KindTargets:
    """The campaign's targets for a unit kind (none set: no targets)."""
    return campaign.targets.get(cast(UnitKind, unit_kind)) or KindTargets()


def rejudge(session: Session, campaigns: Iterable[CampaignSnapshot], limit: int = 5000
            ) -> int:
    """Judge the standing reports not judged against their campaign's current revision
    (folded before the campaign was known, or before its targets or peak windows changed);
    at most `limit` at a time. Never commits; returns how many were judged."""
    judged = 0
    for campaign in campaigns:
        stale = store.unjudged(session, campaign.code, campaign.revision, limit - judged)
        if not stale:
            continue
        days: dict[tuple[str, str], dict[date, int]] = {}
        for period in {row.period for row in stale}:
            units = [row.unit_code for row in stale if row.period == period]
            for unit, found in store.days_of(session, campaign.code, period, units).items():
                days[period, unit] = found
        store.judge(raw_in(session), [
            (*verdict(campaign, row.unit_kind, days.get((row.period, row.unit_code), {}),
                      row.period_start, row.period_end),
             campaign.revision, campaign.code, row.period, row.unit_code) for row in stale])
        store.bump(raw_in(session), campaign.code, {row.period for row in stale})
        judged += len(stale)
        if judged >= limit:
            break
    return judged


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


class CountRow(Protocol):
    """A row of counts: a unit's (models.ActivityCount) or a period's (models.PeriodTotal)."""

    unit_kind: str
    kind: str
    platform: str
    format: str
    language: str
    channel: str
    count: int
    people_mobilised: int
    shares: int


def totals(rows: Iterable[CountRow]) -> TotalsPublic:
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
    return TotalsPublic(  # no zero entries: a revision that dropped a kind drops its key
        by_activity_kind=_nonzero(by_kind),
        **{f"by_{name}": _nonzero(counter) for name, counter in breakdown.items()},
        people_mobilised=people, shares=shares)


def _nonzero(counter: Counter[str]) -> dict[str, int]:
    return {key: n for key, n in sorted(counter.items()) if n}


def below_target(code: str, name: str, kind: str, targets: KindTargets,
                 campaign: CampaignSnapshot, days: Mapping[date, int], start: date,
                 last: date) -> FailingUnitPublic:
    """A unit's weeks and peak days below target between `start` and `last`."""
    weekly, daily = targets.loudspeaker_per_week, targets.loudspeaker_per_peak_day
    weeks, peak_days = calendar(campaign, start, last)
    totals = [(week[0], sum(days.get(d, 0) for d in week)) for week in weeks]
    return FailingUnitPublic(
        code=code, name=name, kind=kind,
        weeks_below=[] if weekly is None else [
            WeekBelowPublic(week=periods.name_of(monday, ReportingPeriod.iso_week),
                            broadcasts=total, target=weekly)
            for monday, total in totals if total < weekly],
        days_below=[] if daily is None else [
            DayBelowPublic(day=day, broadcasts=days.get(day, 0), target=daily)
            for day in peak_days if days.get(day, 0) < daily])


PLATFORMS = tuple(PlatformCoverage.model_fields)
LANGUAGES = tuple(LanguageCoverage.model_fields)


def coverage(rows: Iterable[CountRow]) -> dict[str, CoveragePublic]:
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
