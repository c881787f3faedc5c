"""The leadership's feeds: thin routes over feeds.py and service.py."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from services import periods
from services.aggregator import feeds, service
from services.aggregator.hub import ProgressHub
from services.aggregator.schemas import MissingPagePublic, ProgressPublic, UnitProgressPublic
from services.bus.directory import Directory
from services.events import UnitKind
from services.refusals import NotFound
from services.web.auth import ReaderDep
from services.web.db import SessionDep
from services.web.errors import documented

router = APIRouter(prefix="/v1/progress", tags=["progress"])


def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


DirectoryDep = Annotated[Directory, Depends(_directory)]
CampaignQuery = Annotated[str, Query(max_length=64, description="Campaign code.")]
PeriodQuery = Annotated[str, Query(max_length=16, description="Period, e.g. 2026-W04.")]
KindQuery = Annotated[UnitKind | None, Query(description="Only units of this kind.")]
FormatQuery = Annotated[Literal["json", "csv"], Query(description="json, or csv for Excel")]
CSV: dict[int | str, dict[str, Any]] = {200: {
    "content": {"text/csv": {}}, "description": "JSON, or with `format=csv` UTF-8 CSV with a "
    "byte-order mark (Excel shows Vietnamese names correctly)."}}


@router.get("", response_model=ProgressPublic,
            responses={**CSV, **documented(401, 403, 404, 422)})
def progress(_: ReaderDep, directory: DirectoryDep, session: SessionDep,
             campaign: CampaignQuery, period: PeriodQuery, kind: KindQuery = None,
             format: FormatQuery = "json") -> Any:
    """Completeness, timeliness, totals, coverage and loudspeaker compliance for a period;
    as CSV, one row per expected unit."""
    view = service.period_or_raise(directory.campaigns, campaign, period, kind)
    if format == "csv":
        return _csv(f"progress-{campaign}-{period}", *_unit_table(
            feeds.unit_rows(session, directory, view)))
    return feeds.progress(session, directory, view, today=periods.today())


@router.get("/missing", response_model=MissingPagePublic,
            responses={**CSV, **documented(401, 403, 404, 422)})
def missing(_: ReaderDep, directory: DirectoryDep, session: SessionDep,
            campaign: CampaignQuery, period: PeriodQuery, kind: KindQuery = None,
            format: FormatQuery = "json") -> Any:
    """The units still expected to report for a period."""
    items = feeds.missing(session, directory,
                          service.period_or_raise(directory.campaigns, campaign, period, kind))
    if format == "csv":
        return _csv(f"missing-{campaign}-{period}", ("code", "name", "kind"),
                    [(u.code, u.name, u.kind) for u in items])
    return MissingPagePublic(items=items, total=len(items))


@router.get("/units/{code}", responses=documented(401, 403, 404, 422))
def unit_progress(code: str, _: ReaderDep, directory: DirectoryDep, session: SessionDep,
                  campaign: CampaignQuery) -> UnitProgressPublic:
    """One unit over the campaign: each period's standing report and its totals."""
    service.campaign_or_raise(directory.campaigns, campaign)
    unit = directory.units.get(code)
    if unit is None:
        raise NotFound.on("code", "unit_not_found", f"no unit with code {code!r}")
    return feeds.unit_progress(session, unit, campaign)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}, **documented(401, 403)})
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


def _unit_table(rows: list[feeds.UnitRow]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The period table's columns, and one line per unit (None: an empty cell)."""
    header = ("code", "name", "kind", "reported", "on_time", "version",
              *service.ACTIVITY_KINDS, "loudspeaker_total")
    return header, [(r.code, r.name, r.kind, r.reported, r.on_time, r.version,
                     *(r.activities[kind] for kind in service.ACTIVITY_KINDS),
                     r.loudspeaker_total) for r in rows]


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """UTF-8 with a byte-order mark, so that Excel shows Vietnamese names correctly; every
    cell goes through `_inert`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(map(_inert, header))
    writer.writerows(map(_inert, row) for row in rows)
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}.csv"'})


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (a unit named
    `=HYPERLINK(...)`), quoted with a leading `'` as OWASP advises; Excel shows the text."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell
