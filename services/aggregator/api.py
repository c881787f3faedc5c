"""The leadership's feeds: thin routes over service.py."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from services import periods
from services.aggregator import feeds, service
from services.aggregator.hub import ProgressHub
from services.directory import Directory
from services.events import CampaignSnapshot, UnitKind
from services.http import ApiError, bearer_token

router = APIRouter(prefix="/v1/progress", tags=["progress"])


def reader(request: Request) -> Directory:
    """Leadership credentials read the feeds; unit credentials do not."""
    token = bearer_token(request)
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


FormatQuery = Annotated[Literal["json", "csv"], Query(description="json, or csv for Excel")]


@router.get("")
def progress(directory: ReaderDep, session: SessionDep, campaign: CampaignQuery,
             period: PeriodQuery, kind: UnitKind | None = None,
             format: FormatQuery = "json") -> Any:
    """Completeness, timeliness, totals, coverage and loudspeaker compliance for a period;
    as CSV, one row per expected unit."""
    target = _campaign(directory, campaign)
    start, end = _bounds(target, period)
    view = service.Period(target, period, start, end, kind)
    if format == "csv":
        return _csv(f"progress-{campaign}-{period}", feeds.unit_rows(session, directory, view))
    return feeds.progress(session, directory, view, today=_today())


@router.get("/missing")
def missing(directory: ReaderDep, session: SessionDep, campaign: CampaignQuery,
            period: PeriodQuery, kind: UnitKind | None = None,
            format: FormatQuery = "json") -> Any:
    """The units still expected to report for a period."""
    target = _campaign(directory, campaign)
    start, end = _bounds(target, period)
    items = feeds.missing(session, directory, service.Period(target, period, start, end, kind))
    if format == "csv":
        return _csv(f"missing-{campaign}-{period}", items)
    return {"items": items, "total": len(items)}


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(request: Request, _: ReaderDep,
                 campaign: Annotated[str | None, Query(max_length=64)] = None
                 ) -> StreamingResponse:
    """Server-Sent Events: one `progress` event per change of a period's figures."""
    hub: ProgressHub = request.app.state.hub
    queue = hub.subscribe()

    async def events() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if campaign in (None, change.campaign):
                    yield f"event: progress\ndata: {change.model_dump_json()}\n\n"
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})


def _today() -> date:
    return datetime.now(periods.LOCAL_ZONE).date()


def _csv(name: str, rows: list[dict[str, Any]]) -> Response:
    """UTF-8 with a byte-order mark, so that Excel shows Vietnamese names correctly."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}.csv"'})


@router.get("/units/{code}")
def unit_progress(code: str, directory: ReaderDep, session: SessionDep,
                  campaign: CampaignQuery) -> dict[str, Any]:
    """One unit over the campaign: each period's standing report and its totals."""
    _campaign(directory, campaign)
    unit = directory.units.get(code)
    if unit is None:
        raise ApiError(404, "unit_not_found", f"no unit with code {code!r}")
    return feeds.unit_progress(session, unit, campaign)
