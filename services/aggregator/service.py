"""The aggregator's decisions: which report version counts, when a unit was on time, and
what the feeds say."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any, NamedTuple, Protocol, cast

from pydantic import BaseModel
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
    db = raw_in(session)
    standing = store.standing(db, set(found))
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
        placed = store.parents(session, {e.unit_code for e, _ in winners})
        heads, counts, days = _rows(winners, campaigns or {},
                                    {code: parent for code, (parent, _) in placed.items()})
        shift = _Shift()
        for campaign, period, unit, kind, parent, on_time in map(_HEAD_FIGURES, heads):
            shift.report(campaign, period, kind, parent, bool(on_time), +1)
            before = replaced.get((campaign, period, unit))
            if before is not None:
                shift.report(campaign, period, before.unit_kind, before.unit_parent,
                             before.on_time, -1)
        shift.counts(map(_AS_TOTAL, counts), +1)
        shift.counts(store.standing_counts(db, set(replaced)), -1)
        store.replace(db, heads, counts, days)
        store.shift(db, *shift.rows())
    return [event for event, _ in winners]


# A head row's key, kind, parent and timeliness; a count row as a TOTAL_KEY + TOTAL_FIGURES
# row.
_HEAD_FIGURES = itemgetter(*(store.HEAD_COLUMNS.index(name) for name in (
    "campaign_code", "period", "unit_code", "unit_kind", "unit_parent", "on_time")))
_AS_TOTAL = itemgetter(*(store.COUNT_COLUMNS.index(name)
                         for name in store.TOTAL_KEY + store.TOTAL_FIGURES))
_PARENT_AT = store.TOTAL_KEY.index("unit_parent")


class _Shift:
    """How the kept figures change, gathered: standing reports counted in (+1) or out
    (-1), with what they count. Rows for store.shift."""

    def __init__(self) -> None:
        self._figures: dict[tuple[str, str, str, str], list[int]] = {}
        self._totals: dict[tuple[Any, ...], list[int]] = {}

    def report(self, campaign: str, period: str, kind: str, parent: str, on_time: bool,
               sign: int) -> None:
        figure = self._figures.setdefault((campaign, period, kind, parent), [0, 0])
        figure[0], figure[1] = figure[0] + sign, figure[1] + sign * on_time

    def counts(self, rows: Iterable[Sequence[Any]], sign: int,
               parent: str | None = None) -> None:
        """Rows of TOTAL_KEY + TOTAL_FIGURES; under another parent than their own, if
        given."""
        keyed = len(store.TOTAL_KEY)
        for row in rows:
            key = tuple(row[:keyed])
            if parent is not None:
                key = (*key[:_PARENT_AT], parent, *key[_PARENT_AT + 1:])
            total = self._totals.setdefault(key, [0, 0, 0])
            for at, value in enumerate(row[keyed:]):
                total[at] += sign * value

    def rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        return ([(*key, *figure) for key, figure in self._figures.items()],
                [(*key, *total) for key, total in self._totals.items()])


UnitRecord = tuple[str, str, int]
"""A unit as the registry's topic brings it to the fold: (code, parent or "", revision)."""


def reparent(session: Session, records: Iterable[UnitRecord]) -> int:
    """Keep each unit's newest parent; where it changed, move the unit's standing reports
    and what they count to the new parent, the kept figures with them. Idempotent: a record
    already read changes nothing. Never commits; returns how many standing reports moved."""
    newest: dict[str, tuple[str, int]] = {}
    for code, parent, revision in records:
        if code not in newest or newest[code][1] < revision:
            newest[code] = (parent, revision)
    known = store.parents(session, newest)
    fresh = {code: parent for code, (parent, revision) in newest.items()
             if code not in known or known[code][1] < revision}
    if not fresh:
        return 0
    db = raw_in(session)
    store.set_parents(db, [(code, parent, newest[code][1]) for code, parent in fresh.items()])
    moving = [p for p in store.placed(session, fresh) if p.unit_parent != fresh[p.key[2]]]
    if not moving:
        return 0
    shift = _Shift()
    by_parent: dict[str, list[store.Key]] = {}
    for p in moving:
        campaign, period, unit = p.key
        shift.report(campaign, period, p.unit_kind, p.unit_parent, p.on_time, -1)
        shift.report(campaign, period, p.unit_kind, fresh[unit], p.on_time, +1)
        by_parent.setdefault(fresh[unit], []).append(p.key)
    for parent, keys in by_parent.items():
        rows = store.standing_counts(db, set(keys))
        shift.counts(rows, -1)
        shift.counts(rows, +1, parent=parent)
    store.move(db, [(fresh[p.key[2]], *p.key) for p in moving])
    store.shift(db, *shift.rows())
    return len(moving)


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
          campaigns: Mapping[str, CampaignSnapshot], parents: Mapping[str, str]
          ) -> tuple[list[tuple[Any, ...]], ...]:
    """Rows for store.replace: each event's head, its counts and its days, under the unit's
    parent as the fold has read it ("" until then: see `reparent`)."""
    heads: list[tuple[Any, ...]] = []
    counts: list[tuple[Any, ...]] = []
    days: list[tuple[Any, ...]] = []
    for e, judged in winners:
        daily = daily_of(e)
        campaign = campaigns.get(e.campaign_code)
        parent = parents.get(e.unit_code, "")
        found = None if campaign is None else verdict(campaign, e.unit_kind, daily,
                                                      e.period_start, e.period_end)
        heads.append((e.campaign_code, e.period, e.unit_code, e.unit_kind, parent,
                      e.report_id, e.version, judged.on_time, e.received_at,
                      judged.first_received_at, e.period_start, e.period_end,
                      sum(daily.values()), *(found or Verdict(None, None)),
                      None if campaign is None else campaign.revision,
                      e.entered_by.label if e.entered_by else None))
        counts += [(e.campaign_code, e.period, e.unit_code, *key, e.unit_kind, parent,
                    *figures) for key, figures in counts_of(e).items()]
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


def counts_of(event: ReportSubmitted) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """Count, people mobilised and shares by kind, platform, format, language and channel."""
    totals: dict[tuple[str, ...], tuple[int, int, int]] = {}
    for activity in event.activities:
        key = (activity.kind, *(str(getattr(activity, name) or "") if name else ""
                                for name in _details(type(activity))))
        people, shares = ((activity.people_mobilised, activity.shares)
                          if isinstance(activity, Mobilisation) else (0, 0))
        count, people_before, shares_before = totals.get(key, (0, 0, 0))
        totals[key] = (count + activity.count, people_before + people, shares_before + shares)
    return totals


@cache
def _details(kind: type[BaseModel]) -> tuple[str | None, ...]:
    """Which of DETAILS an activity kind has (None where it has not): asked once a kind, not
    for every line of every report (pydantic answers a missing attribute slowly)."""
    return tuple(name if name in kind.model_fields else None for name in DETAILS)


def daily_of(event: ReportSubmitted) -> Counter[date]:
    days: Counter[date] = Counter()
    for activity in event.activities:
        if isinstance(activity, LoudspeakerBroadcast):
            days.update(activity.daily_counts)
    return days


# --- feeds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One period of a campaign, optionally narrowed to one unit kind and one parent."""

    campaign: CampaignSnapshot
    name: str
    start: date
    end: date
    kind: str | None = None
    parent: str | None = None


def campaign_or_raise(campaigns: Mapping[str, CampaignSnapshot], code: str
                      ) -> CampaignSnapshot:
    """The campaign of that code; NotFound if the registry has none."""
    campaign = campaigns.get(code)
    if campaign is None:
        raise NotFound.on("campaign", "campaign_unknown", f"no campaign with code {code!r}")
    return campaign


def period_or_raise(campaigns: Mapping[str, CampaignSnapshot], code: str, name: str,
                    kind: str | None = None, parent: str | None = None) -> Period:
    """A period of a known campaign; Invalid if the name is malformed or the period lies
    outside the campaign (as intake refuses it: no feed reports every unit missing for a
    week nobody may report on)."""
    campaign = campaign_or_raise(campaigns, code)
    try:
        found = periods.in_campaign(campaign, name)
    except periods.PeriodError as exc:
        raise Invalid.on("period", exc.rule, str(exc)) from None
    return Period(campaign, name, found.start, found.end, kind, parent)


def due_periods(campaign: CampaignSnapshot, now: datetime) -> list[periods.Period]:
    """The campaign's periods whose deadline has passed; none that starts after today (its
    deadline is later still, in any zone)."""
    return [p for p in periods.of_campaign(campaign, last=now.date() + timedelta(days=1))
            if p.deadline < now]


def expected_units(units: Iterable[UnitSnapshot], campaign: CampaignSnapshot, start: date,
                   end: date, kind: str | None = None, parent: str | None = None
                   ) -> dict[str, UnitSnapshot]:
    """Active at some point in the period and of a kind the campaign expects reports from
    (of that kind and parent only, if given)."""
    return {
        u.code: u for u in list(units)  # a copy at once: the registry follower may add more
        if (kind is None or u.kind == kind) and (parent is None or parent_of(u) == parent)
        and u.kind in campaign.targets and campaign.targets[u.kind].reports_each_period
        and u.active_from <= end and (u.active_until is None or u.active_until >= start)
    }


def parent_of(unit: UnitSnapshot) -> str:
    """The parent a unit's figures are kept under ("": none)."""
    return unit.parent or ""


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
