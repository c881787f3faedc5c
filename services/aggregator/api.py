"""The leadership's feeds: thin routes over service.py."""

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session

from services import periods
from services.aggregator import service, store
from services.directory import Directory
from services.events import CampaignSnapshot, UnitKind
from services.http import ApiError

router = APIRouter(prefix="/v1/progress", tags=["progress"])


def reader(request: Request) -> Directory:
    """Leadership credentials read the feeds; unit credentials do not."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    directory: Directory = request.app.state.directory
    credential = directory.credential(token)
    if credential is None:
        raise ApiError(401, "unauthenticated", "a leadership Bearer token is required")
    if credential.scope != "leadership":
        raise ApiError(403, "forbidden", "the progress feeds need a leadership credential")
    return directory


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


ReaderDep = Annotated[Directory, Depends(reader)]
SessionDep = Annotated[Session, Depends(get_session)]
CampaignQuery = Annotated[str, Query(max_length=64, description="Campaign code.")]
PeriodQuery = Annotated[str, Query(max_length=16, description="Period, e.g. 2026-W04.")]


def _campaign(directory: Directory, code: str) -> CampaignSnapshot:
    campaign = directory.campaigns.get(code)
    if campaign is None:
        raise ApiError(404, "campaign_unknown", f"no campaign with code {code!r}",
                       [{"field": "campaign", "rule": "campaign_unknown",
                         "message": "unknown campaign"}])
    return campaign


def _bounds(campaign: CampaignSnapshot, period: str) -> tuple[date, date]:
    try:
        return periods.bounds(period, campaign.reporting_period)
    except periods.PeriodError as exc:
        raise ApiError(422, "period_format", str(exc), [
            {"field": "period", "rule": "period_format", "message": str(exc)}]) from None


@router.get("")
def progress(directory: ReaderDep, session: SessionDep, campaign: CampaignQuery,
             period: PeriodQuery, kind: UnitKind | None = None) -> dict[str, Any]:
    """Completeness, timeliness and totals for one period, city-wide and per unit kind."""
    target = _campaign(directory, campaign)
    start, end = _bounds(target, period)
    expected = service.expected_units(directory.units.values(), target, start, end, kind)
    reported = {r.unit_code: r.on_time for r in store.period_reports(session, campaign, period)}
    rows = store.counts(session, campaign, period=period,
                        unit_kinds=[kind] if kind else None)
    return {"campaign": campaign, "period": period, "period_start": start,
            "period_end": end, "deadline": periods.deadline(end, target.deadline),
            "unit_kind": kind, **service.ratios(expected, reported),
            "missing": len([c for c in expected if c not in reported]),
            "totals": service.totals(rows)}


@router.get("/missing")
def missing(directory: ReaderDep, session: SessionDep, campaign: CampaignQuery,
            period: PeriodQuery, kind: UnitKind | None = None) -> dict[str, Any]:
    """The units still expected to report for a period."""
    target = _campaign(directory, campaign)
    start, end = _bounds(target, period)
    expected = service.expected_units(directory.units.values(), target, start, end, kind)
    reported = {r.unit_code for r in store.period_reports(session, campaign, period)}
    items = [{"code": u.code, "name": u.name, "kind": u.kind}
             for code, u in sorted(expected.items()) if code not in reported]
    return {"items": items, "total": len(items)}


@router.get("/units/{code}")
def unit_progress(code: str, directory: ReaderDep, session: SessionDep,
                  campaign: CampaignQuery) -> dict[str, Any]:
    """One unit over the campaign: each period's standing report and its totals."""
    _campaign(directory, campaign)
    unit = directory.units.get(code)
    if unit is None:
        raise ApiError(404, "unit_not_found", f"no unit with code {code!r}")
    rows = store.counts(session, campaign, unit=code)
    periods_out = [{"period": r.period, "report_id": r.report_id, "version": r.version,
                    "on_time": r.on_time, "received_at": r.received_at,
                    "totals": service.totals(x for x in rows if x.period == r.period)}
                   for r in store.unit_reports(session, campaign, code)]
    return {"unit": {"code": unit.code, "name": unit.name, "kind": unit.kind},
            "campaign": campaign, "periods": periods_out, "totals": service.totals(rows)}
