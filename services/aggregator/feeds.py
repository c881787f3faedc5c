"""The leadership's feeds, read off the figures the fold keeps and the registry read model:
no request walks every unit of a period, save a whole table's download."""

import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from services import periods
from services.aggregator import service, store
from services.aggregator.schemas import (
    BelowTargetPagePublic,
    LoudspeakerPublic,
    MissingPagePublic,
    MissingUnitPublic,
    OverviewPeriodPublic,
    OverviewPublic,
    ParentProgressPublic,
    ParentsPublic,
    ProgressPublic,
    RatioPublic,
    UnitDayPublic,
    UnitDaysPagePublic,
    UnitPeriodPublic,
    UnitProgressPublic,
    UnitRefPublic,
    UnitRowPublic,
    UnitTablePagePublic,
)
from services.aggregator.service import Period
from services.bus.directory import Directory
from services.events import (
    COMMUNE_LEVEL,
    PROVINCES,
    CampaignSnapshot,
    KindProgress,
    ProgressChanged,
    ReportSubmitted,
    UnitSnapshot,
)
from services.refusals import Invalid


@dataclass(frozen=True)
class Expected:
    """The units expected to report for a period (see service.expected_units), in the
    orders the lists are read in. Derived once per registry revision, not per request."""

    units: dict[str, UnitSnapshot]
    by_code: list[str]
    by_kind: list[tuple[str, str]]  # (kind, code)
    per_kind: dict[str, int]
    per_parent: dict[str, dict[str, int]]  # parent ("": none) -> unit kind -> units
    # units of those kinds (and that parent) that the period does not expect (retired
    # before it, joined after it): a report of theirs is kept in the figures but does not
    # count
    outside: list[str]


def expected(directory: Directory, view: Period) -> Expected:
    """The period's expected units, made once per revision of the registry's records."""
    def make() -> Expected:
        units = service.expected_units(directory.units.values(), view.campaign, view.start,
                                       view.end, view.kind, view.parent)
        kinds = {u.kind for u in units.values()}
        per_parent: dict[str, dict[str, int]] = {}
        for u in units.values():
            kinds_of = per_parent.setdefault(service.parent_of(u), {})
            kinds_of[u.kind] = kinds_of.get(u.kind, 0) + 1
        return Expected(units=units, by_code=sorted(units),
                        by_kind=sorted((u.kind, code) for code, u in units.items()),
                        per_kind=dict(Counter(u.kind for u in units.values())),
                        per_parent=per_parent,
                        outside=[code for code, u in directory.units.items()
                                 if u.kind in kinds and code not in units and
                                 (view.parent is None or service.parent_of(u) == view.parent)])
    return directory.derived(("expected", view.campaign.code, view.campaign.revision,
                              view.name, view.start, view.kind, view.parent), make)


def ratios(session: Session, directory: Directory, view: Period) -> service.Ratios:
    """Completeness and timeliness from the kept figures: per expected unit kind, and
    city-wide over those kinds; the reports of units the period does not expect taken out
    (a unit the registry no longer has at all is not: `ratio_of` keeps the ratios at most 1)."""
    found = expected(directory, view)
    kept = store.figures(session, view.campaign.code, view.name, view.parent)
    aside = store.figures_of(session, view.campaign.code, view.name, found.outside,
                             view.parent)
    return ratios_of(found.per_kind, _by_kind(kept), _by_kind(aside))


def _by_kind(figures: store.Figures, parent: str | None = None) -> dict[str, tuple[int, int]]:
    """Figures per unit kind, summed over the parents (or of one parent)."""
    found: dict[str, tuple[int, int]] = {}
    for (of, kind), (reported, on_time) in figures.items():
        if parent is None or of == parent:
            before = found.get(kind, (0, 0))
            found[kind] = (before[0] + reported, before[1] + on_time)
    return found


def ratios_of(per_kind: dict[str, int], kept: dict[str, tuple[int, int]],
            aside: dict[str, tuple[int, int]]) -> service.Ratios:
    """Ratios per expected unit kind and over them all, the reports `aside` taken out."""
    by_kind = {kind: ratio_of(n, *(k - a for k, a in zip(kept.get(kind, (0, 0)),
                                                       aside.get(kind, (0, 0)), strict=True)))
               for kind, n in sorted(per_kind.items())}
    return service.Ratios(city=ratio_of(sum(per_kind.values()),
                                      sum(r.reported for r in by_kind.values()),
                                      sum(r.on_time for r in by_kind.values())),
                          by_unit_kind=by_kind)


def ratio_of(expected_units: int, reported: int, on_time: int) -> RatioPublic:
    reported, on_time = min(reported, expected_units), min(on_time, expected_units)
    return RatioPublic(
        expected=expected_units, reported=reported, on_time=on_time,
        completeness=round(reported / expected_units, 4) if expected_units else None,
        timeliness=round(on_time / expected_units, 4) if expected_units else None)


def progress(session: Session, directory: Directory, view: Period,
             today: date) -> ProgressPublic:
    """The period's summary, read off the kept figures: its cost does not grow with the
    number of units (beyond counting the units below target in an index)."""
    figures = ratios(session, directory, view)
    rows = store.period_totals(session, view.campaign.code, view.name,
                               [view.kind] if view.kind else None, view.parent)
    return ProgressPublic(
        campaign=view.campaign.code, period=view.name, period_start=view.start,
        period_end=view.end, deadline=periods.deadline(view.end, view.campaign.deadline),
        unit_kind=view.kind, parent=view.parent, city=figures.city,
        by_unit_kind=figures.by_unit_kind,
        missing=figures.city.expected - figures.city.reported,
        totals=service.totals(rows), coverage=service.coverage(rows),
        loudspeaker=_loudspeaker(session, view, figures, today))


def overview(session: Session, directory: Directory, campaign: CampaignSnapshot,
             now: datetime, kind: str | None = None, parent: str | None = None
             ) -> OverviewPublic:
    """Every period of the campaign with its completeness, timeliness and loudspeaker
    counts, read off the kept figures like the period's summary (a few queries a period)."""
    today = periods.local_day(now)
    current = periods.current(campaign, today)
    items = []
    for period in periods.of_campaign(campaign):
        view = Period(campaign, period.name, period.start, period.end, kind, parent)
        figures = ratios(session, directory, view)
        items.append(OverviewPeriodPublic(
            period=period.name, period_start=period.start, period_end=period.end,
            deadline=period.deadline,
            state="upcoming" if period.start > today else
                  "due" if period.deadline < now else "open",
            city=figures.city, by_unit_kind=figures.by_unit_kind,
            missing=figures.city.expected - figures.city.reported,
            loudspeaker=_loudspeaker(session, view, figures, today)))
    return OverviewPublic(campaign=campaign.code, unit_kind=kind, parent=parent,
                          current=current.name if current else None, items=items)


def _loudspeaker(session: Session, view: Period, figures: service.Ratios, today: date
                 ) -> LoudspeakerPublic:
    """The period's loudspeaker counts: units judged, and below a target as of `today`."""
    below = store.below_counts(session, view.campaign.code, view.name, today, view.kind)
    failing, below_weekly, below_daily = (
        below.get(view.parent, (0, 0, 0)) if view.parent is not None
        else tuple(sum(n) for n in zip((0, 0, 0), *below.values(), strict=True)))
    return LoudspeakerPublic(
        units_checked=sum(r.reported for kind, r in figures.by_unit_kind.items()
                          if kind in COMMUNE_LEVEL),
        units_failing=failing, units_below_weekly=below_weekly, units_below_daily=below_daily)


def missing(session: Session, directory: Directory, view: Period, *, after: str | None,
            limit: int) -> MissingPagePublic:
    """A page of the expected units that have not reported, by code after `after`."""
    found = expected(directory, view)
    at = bisect.bisect_right(found.by_code, after) if after is not None else 0
    items: list[MissingUnitPublic] = []
    while at < len(found.by_code) and len(items) < limit:
        chunk = found.by_code[at:at + max(2 * limit, 200)]
        reported = store.heads_of(session, view.campaign.code, view.name, chunk)
        for code in chunk:
            at += 1
            if code not in reported:
                unit = found.units[code]
                items.append(MissingUnitPublic(code=code, name=unit.name, kind=unit.kind,
                                               parent=unit.parent))
                if len(items) == limit:
                    break
    more = len(items) == limit and at < len(found.by_code)  # the next page may be empty
    ratio = ratios(session, directory, view).city
    return MissingPagePublic(items=items, total=ratio.expected - ratio.reported,
                             next_cursor=items[-1].code if more else None)


def below_target(session: Session, directory: Directory, view: Period, today: date, *,
                 rule: str | None, after: str | None, limit: int) -> BelowTargetPagePublic:
    """A page of the units below a loudspeaker target as of `today`, with their weeks and
    days: the kept verdicts choose the units, only the page's days are read."""
    page, total = store.below_page(session, view.campaign.code, view.name, today,
                                   unit_kind=view.kind, parent=view.parent, rule=rule,
                                   after=after, limit=limit + 1)
    shown = page[:limit]
    days = store.days_of(session, view.campaign.code, view.name, [c for c, _ in shown])
    items = []
    for code, kind in shown:
        unit = directory.units.get(code)
        items.append(service.below_target(
            code, unit.name if unit else code, kind,
            service.targets_of(view.campaign, kind), view.campaign,
            days.get(code, {}), view.start, min(view.end, today)))
    return BelowTargetPagePublic(items=items, total=total,
                                 next_cursor=shown[-1][0] if len(page) > limit else None)


def by_parent(session: Session, directory: Directory, view: Period, today: date
              ) -> ParentsPublic:
    """The period's figures rolled up by parent, read off the kept figures: one line per
    parent with expected units, the units without a parent last."""
    found = expected(directory, view)
    kept = store.figures(session, view.campaign.code, view.name)
    aside = store.figures_of(session, view.campaign.code, view.name, found.outside)
    below = store.below_counts(session, view.campaign.code, view.name, today, view.kind)
    items = []
    for parent in sorted(found.per_parent, key=lambda p: (p == "", p)):
        figures = ratios_of(found.per_parent[parent], _by_kind(kept, parent),
                          _by_kind(aside, parent))
        items.append(ParentProgressPublic(
            parent=parent or None, name=PROVINCES.get(parent), all=figures.city,
            by_unit_kind=figures.by_unit_kind,
            units_failing=below.get(parent, (0, 0, 0))[0]))
    return ParentsPublic(campaign=view.campaign.code, period=view.name, unit_kind=view.kind,
                         items=items)


def unit_table(session: Session, directory: Directory, view: Period, *, after: str | None,
               limit: int) -> UnitTablePagePublic:
    """A page of the period table: every expected unit by kind and code, after the cursor
    `kind/code`."""
    found = expected(directory, view)
    at = bisect.bisect_right(found.by_kind, _table_position(after)) if after else 0
    keys = found.by_kind[at:at + limit]
    more = at + limit < len(found.by_kind)
    return UnitTablePagePublic(
        items=unit_rows(session, view, found, [code for _, code in keys]),
        total=len(found.by_kind),
        next_cursor="/".join(keys[-1]) if more and keys else None)


def _table_position(cursor: str) -> tuple[str, str]:
    kind, slash, code = cursor.partition("/")
    if not slash:
        raise Invalid.on("cursor", "cursor_format", "not a cursor this list gave")
    return kind, code


def unit_rows(session: Session, view: Period, found: Expected, codes: list[str]
              ) -> list[UnitRowPublic]:
    """The table's lines of these expected units: their reports, counts, broadcasts (the
    period's and the least on a peak day so far), platforms and languages."""
    heads = store.heads_of(session, view.campaign.code, view.name, codes)
    counted = store.unit_counts_of(session, view.campaign.code, view.name, codes)
    peaks = service.calendar(view.campaign, view.start, min(view.end, periods.today()))[1]
    days = store.days_of(session, view.campaign.code, view.name, codes) if peaks else {}
    nothing = store.UnitCounts({}, set(), set())
    rows = []
    for code in codes:
        unit, head, counts = found.units[code], heads.get(code), counted.get(code, nothing)
        duty = unit.kind in COMMUNE_LEVEL
        rows.append(UnitRowPublic(
            code=code, name=unit.name, kind=unit.kind, parent=unit.parent,
            reported=head is not None,
            on_time=bool(head and head.on_time), version=head.version if head else None,
            entered_by=head.entered_by if head else None,
            activities={kind: counts.by_kind.get(kind, 0) for kind in service.ACTIVITY_KINDS},
            loudspeaker_total=(head.loudspeaker_total if head else 0) if duty else None,
            peak_day_least=min(days.get(code, {}).get(d, 0) for d in peaks)
            if duty and peaks else None,
            platforms=sorted(counts.platforms), languages=sorted(counts.languages)))
    return rows


def table_pages(engine: Engine, directory: Directory, view: Period, size: int = 1000
                ) -> Iterator[list[UnitRowPublic]]:
    """The whole period table, a page at a time, each read in a session of its own (for a
    streamed download: a page is sent before the next is read)."""
    found = expected(directory, view)
    for at in range(0, len(found.by_kind), size):
        with Session(engine) as session:
            yield unit_rows(session, view, found,
                            [code for _, code in found.by_kind[at:at + size]])


def unit_progress(session: Session, unit: UnitSnapshot, campaign: str) -> UnitProgressPublic:
    """One unit over a campaign: each period's standing report and its totals."""
    standing = store.unit_reports(session, campaign, unit.code)
    rows = store.unit_counts(session, campaign, unit.code, [r.period for r in standing])
    reports = [UnitPeriodPublic(
        period=r.period, report_id=r.report_id, version=r.version, on_time=r.on_time,
        received_at=r.received_at, entered_by=r.entered_by,
        totals=service.totals(x for x in rows if x.period == r.period))
        for r in standing]
    return UnitProgressPublic(
        unit=UnitRefPublic(code=unit.code, name=unit.name, kind=unit.kind), campaign=campaign,
        periods=reports, totals=service.totals(rows), coverage=service.coverage(rows)["city"])


def unit_days(session: Session, unit: UnitSnapshot, campaign: CampaignSnapshot, *,
              after: str | None, limit: int) -> UnitDaysPagePublic:
    """A page of a unit's loudspeaker days over a campaign, by date after the cursor (a
    date: the page's last)."""
    rows, total = store.unit_days(session, campaign.code, unit.code,
                                  after=_day_cursor(after) if after else None,
                                  limit=limit + 1)
    shown = rows[:limit]
    windows = [(w.starts_on, w.ends_on) for w in campaign.peak_windows]
    return UnitDaysPagePublic(
        unit=UnitRefPublic(code=unit.code, name=unit.name, kind=unit.kind),
        campaign=campaign.code, total=total,
        items=[UnitDayPublic(day=day, period=period, broadcasts=count,
                             peak=any(start <= day <= end for start, end in windows))
               for day, period, count in shown],
        next_cursor=shown[-1][0].isoformat() if len(rows) > limit else None)


def _day_cursor(cursor: str) -> date:
    try:
        return date.fromisoformat(cursor)
    except ValueError:
        raise Invalid.on("cursor", "cursor_format", "not a cursor this list gave") from None


def changes(session: Session, directory: Directory,
            applied: list[ReportSubmitted]) -> list[ProgressChanged]:
    """One progress message per (campaign, period) that the applied reports touched, with
    its figures as kept (read in the fold's transaction, after its changes)."""
    touched: dict[tuple[str, str], list[ReportSubmitted]] = {}
    for event in applied:
        touched.setdefault((event.campaign_code, event.period), []).append(event)
    out = []
    for (campaign_code, period), events in touched.items():
        campaign = directory.campaigns.get(campaign_code)
        first = events[0]
        figures = service.Ratios(city=ratio_of(0, 0, 0), by_unit_kind={}) if campaign is None \
            else ratios(session, directory,
                        Period(campaign, period, first.period_start, first.period_end))
        out.append(ProgressChanged(
            campaign=campaign_code, period=period, units=sorted({e.unit_code for e in events}),
            report_ids=[e.report_id for e in events], city=_progress(figures.city),
            by_unit_kind={kind: _progress(r) for kind, r in figures.by_unit_kind.items()},
            changed_at=datetime.now(UTC)))
    return out


def _progress(ratio: RatioPublic) -> KindProgress:
    return KindProgress.model_validate(ratio.model_dump())


@dataclass(frozen=True)
class OpenPeriod:
    """The period whose report falls due next: how far it is, and its deadline."""

    name: str
    deadline: datetime  # UTC
    completeness: float | None  # city-wide, over the expected unit kinds


@dataclass(frozen=True)
class CampaignFigures:
    """What the campaign gauges show of one campaign (see metrics.CampaignGauges): the
    latest due period's figures (none before the first deadline), the next deadline's, and
    the activities of the whole campaign."""

    campaign: str
    completeness: dict[str, float]  # by unit kind, latest due period
    timeliness: dict[str, float]
    missing: dict[str, int]
    below: tuple[int, int] | None  # below the weekly, the peak-day target; None: none due
    activities: dict[tuple[str, str, str], int]  # by kind, platform, language; whole campaign
    next_due: OpenPeriod | None  # None after the campaign's last deadline


def campaign_figures(session: Session, directory: Directory,
                     now: datetime) -> list[CampaignFigures]:
    """For the campaign gauges: each campaign's latest due period, the period due next,
    and its activities (campaigns not begun yet are left out)."""
    figures = []
    today = periods.local_day(now)
    for campaign in list(directory.campaigns.values()):
        if campaign.starts_on > today:
            continue
        due = service.due_periods(campaign, now)
        kinds: dict[str, RatioPublic] = {}
        below = None
        if due:
            latest = due[-1]
            view = progress(session, directory,
                            Period(campaign, latest.name, latest.start, latest.end), today=today)
            kinds = view.by_unit_kind
            below = (view.loudspeaker.units_below_weekly, view.loudspeaker.units_below_daily)
        after = due[-1].end + timedelta(days=1) if due else None
        upcoming = next(periods.of_campaign(campaign, first=after), None)
        next_due = None
        if upcoming is not None:
            city = ratios(session, directory, Period(campaign, upcoming.name, upcoming.start,
                                                     upcoming.end)).city
            next_due = OpenPeriod(upcoming.name, upcoming.deadline, city.completeness)
        figures.append(CampaignFigures(
            campaign=campaign.code,
            completeness={k: r.completeness for k, r in kinds.items()
                          if r.completeness is not None},
            timeliness={k: r.timeliness for k, r in kinds.items() if r.timeliness is not None},
            missing={k: r.expected - r.reported for k, r in kinds.items()},
            below=below,
            activities=store.activity_totals(session, campaign.code), next_due=next_due))
    return figures
