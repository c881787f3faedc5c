"""The leadership's tables, assembled from the aggregates and the registry read model."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session

from services import periods
from services.aggregator import service, store
from services.aggregator.schemas import (
    MissingUnitPublic,
    ProgressPublic,
    RatioPublic,
    UnitPeriodPublic,
    UnitProgressPublic,
    UnitRefPublic,
)
from services.aggregator.service import Period
from services.bus.directory import Directory
from services.events import (
    COMMUNE_LEVEL,
    KindProgress,
    ProgressChanged,
    ReportSubmitted,
    UnitSnapshot,
)


def progress(session: Session, directory: Directory, view: Period,
             today: date) -> ProgressPublic:
    """Everything the leadership reads about one period."""
    expected = _expected(directory, view)
    reported = store.reported(session, view.campaign.code, view.name)
    rows = store.counts(session, view.campaign.code, period=view.name,
                        unit_kinds=[view.kind] if view.kind else None)
    days = store.broadcasts(session, view.campaign.code, view.start, view.end)
    figures = service.ratios(expected, reported)
    return ProgressPublic(
        campaign=view.campaign.code, period=view.name, period_start=view.start,
        period_end=view.end, deadline=periods.deadline(view.end, view.campaign.deadline),
        unit_kind=view.kind, city=figures.city, by_unit_kind=figures.by_unit_kind,
        missing=sum(1 for code in expected if code not in reported),
        totals=service.totals(rows), coverage=service.coverage(rows),
        loudspeaker=service.compliance(expected, reported, view.campaign, days, view.start,
                                       view.end, today))


def missing(session: Session, directory: Directory, view: Period) -> list[MissingUnitPublic]:
    """The units expected for the period that have not reported."""
    reported = store.reported(session, view.campaign.code, view.name)
    return [MissingUnitPublic(code=u.code, name=u.name, kind=u.kind)
            for code, u in sorted(_expected(directory, view).items()) if code not in reported]


@dataclass(frozen=True)
class UnitRow:
    """One expected unit's line of the period table (the CSV for Excel)."""

    code: str
    name: str
    kind: str
    reported: bool
    on_time: bool
    version: int | None  # None: no report
    activities: dict[str, int]  # count per activity kind, every kind present
    loudspeaker_total: int | None  # None: not a commune-level unit


def unit_rows(session: Session, directory: Directory, view: Period) -> list[UnitRow]:
    """One row per expected unit: its report, its counts and its broadcasts."""
    expected = _expected(directory, view)
    reports = {r.unit_code: r
               for r in store.period_reports(session, view.campaign.code, view.name)}
    counted: dict[str, Counter[str]] = defaultdict(Counter)  # one pass: no unit rescans them
    for count in store.counts(session, view.campaign.code, period=view.name):
        counted[count.unit_code][count.kind] += count.count
    days = store.broadcasts(session, view.campaign.code, view.start, view.end)
    rows = []
    for code, unit in sorted(expected.items(), key=lambda item: (item[1].kind, item[0])):
        report = reports.get(code)
        by_kind = counted.get(code, Counter())
        rows.append(UnitRow(
            code=code, name=unit.name, kind=unit.kind, reported=report is not None,
            on_time=bool(report and report.on_time),
            version=report.version if report else None,
            activities={kind: by_kind.get(kind, 0) for kind in service.ACTIVITY_KINDS},
            loudspeaker_total=sum(days.get(code, {}).values())
            if unit.kind in COMMUNE_LEVEL else None))
    return rows


def _expected(directory: Directory, view: Period) -> dict[str, UnitSnapshot]:
    return service.expected_units(directory.units.values(), view.campaign, view.start,
                                  view.end, view.kind)


def unit_progress(session: Session, unit: UnitSnapshot, campaign: str) -> UnitProgressPublic:
    """One unit over a campaign: each period's standing report and its totals."""
    rows = store.counts(session, campaign, unit=unit.code)
    reports = [UnitPeriodPublic(
        period=r.period, report_id=r.report_id, version=r.version, on_time=r.on_time,
        received_at=r.received_at, totals=service.totals(x for x in rows if x.period == r.period))
        for r in store.unit_reports(session, campaign, unit.code)]
    return UnitProgressPublic(
        unit=UnitRefPublic(code=unit.code, name=unit.name, kind=unit.kind), campaign=campaign,
        periods=reports, totals=service.totals(rows), coverage=service.coverage(rows)["city"])


def changes(session: Session, directory: Directory,
            applied: list[ReportSubmitted]) -> list[ProgressChanged]:
    """One progress message per (campaign, period) that the applied reports touched."""
    touched: dict[tuple[str, str], list[ReportSubmitted]] = {}
    for event in applied:
        touched.setdefault((event.campaign_code, event.period), []).append(event)
    out = []
    for (campaign_code, period), events in touched.items():
        campaign = directory.campaigns.get(campaign_code)
        first = events[0]
        expected = {} if campaign is None else service.expected_units(
            directory.units.values(), campaign, first.period_start, first.period_end)
        figures = service.ratios(expected, store.reported(session, campaign_code, period))
        out.append(ProgressChanged(
            campaign=campaign_code, period=period, units=sorted({e.unit_code for e in events}),
            report_ids=[e.report_id for e in events], city=_progress(figures.city),
            by_unit_kind={kind: _progress(r) for kind, r in figures.by_unit_kind.items()},
            changed_at=datetime.now(UTC)))
    return out


def _progress(ratio: RatioPublic) -> KindProgress:
    return KindProgress.model_validate(ratio.model_dump())


@dataclass(frozen=True)
class CampaignFigures:
    """What the campaign gauges show of one campaign (see metrics.CampaignGauges)."""

    campaign: str
    completeness: dict[str, float]  # by unit kind, latest due period
    timeliness: dict[str, float]
    below_weekly: int
    below_daily: int
    activities: dict[tuple[str, str, str], int]  # by kind, platform, language; whole campaign


def campaign_figures(session: Session, directory: Directory,
                     now: datetime) -> list[CampaignFigures]:
    """For the campaign gauges: each campaign's latest due period, and its activities."""
    figures = []
    for campaign in list(directory.campaigns.values()):
        due = list(service.due_periods(campaign, now))
        if not due:
            continue
        name, start, end, _ = due[-1]
        view = progress(session, directory, Period(campaign, name, start, end),
                        today=periods.local_day(now))
        kinds = view.by_unit_kind
        figures.append(CampaignFigures(
            campaign=campaign.code,
            completeness={k: r.completeness for k, r in kinds.items()
                          if r.completeness is not None},
            timeliness={k: r.timeliness for k, r in kinds.items() if r.timeliness is not None},
            below_weekly=view.loudspeaker.units_below_weekly,
            below_daily=view.loudspeaker.units_below_daily,
            activities=store.activity_totals(session, campaign.code)))
    return figures
