"""The leadership's feeds: thin routes over feeds.py and service.py."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from services import labels, periods
from services.aggregator import feeds, service, store
from services.aggregator.hub import ProgressHub
from services.aggregator.schemas import (
    BelowTargetPagePublic,
    MissingPagePublic,
    OverviewPublic,
    ParentsPublic,
    ProgressPublic,
    UnitDaysPagePublic,
    UnitProgressPublic,
    UnitRowPublic,
    UnitTablePagePublic,
)
from services.bus.directory import Directory
from services.events import CampaignSnapshot, UnitKind, UnitSnapshot
from services.refusals import Forbidden, NotFound
from services.web import downloads
from services.web.auth import Caller, CallerDep, ReaderDep
from services.web.caching import Answers, etag, not_modified
from services.web.downloads import HeaderQuery, table_download
from services.web.errors import documented
from services.web.schemas import CursorQuery, LimitQuery, Province
from services.web.spreadsheets import Column, Sheet

router = APIRouter(prefix="/v1/progress", tags=["progress"])


async def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


DirectoryDep = Annotated[Directory, Depends(_directory)]
CampaignQuery = Annotated[str, Query(max_length=64, description="Campaign code.")]
PeriodQuery = Annotated[str, Query(max_length=16, description="Period, e.g. 2026-W04.")]
KindQuery = Annotated[UnitKind | None, Query(description="Only units of this kind.")]
ParentQuery = Annotated[Province | None, Query(description="Only units of this parent: a "
                                             "province code of Decision 19/2025/QĐ-TTg.")]
FormatQuery = Annotated[Literal["json", "csv", "xlsx"], Query(
    description="json; csv or xlsx: the whole table for Excel.")]
NOT_MODIFIED: dict[str, Any] = {"description": "Not modified: the `ETag` given in "
                                "`If-None-Match` still stands."}
CSV = downloads.documented("with `format=csv` or `format=xlsx`")


def _tag(session: Session, directory: Directory, campaign: str, period: str | None = None,
         also: object = None) -> str:
    """The feed's ETag: the aggregates' revision for the campaign (or period), the
    registry's, the day (below-target counts grow with the days) and what else the answer
    depends on."""
    return etag(store.revision(session, campaign, period), directory.revision, periods.today(),
                also)


async def _feed(request: Request, response: Response, campaign: str, period: str | None,
                make: Callable[[Session], BaseModel],
                download: Callable[[], Response] | None = None, also: object = None
                ) -> Response:
    """A feed's answer, worked out in one trip to the thread pool (a sync route and its
    session would make three): the ETag of its figures, 304 when the client holds it, else
    the JSON made once per ETag (services.web.caching.Answers), or the `download`."""
    state = request.app.state
    if getattr(state, "answers", None) is None:
        state.answers = Answers()
    answers: Answers = state.answers

    def work() -> Response:
        with Session(state.engine) as session:
            tag = _tag(session, state.directory, campaign, period, also)
            if (cached := not_modified(request, response, tag)) is not None:
                return cached
            if download is not None:
                return download()
            return answers.answer(request, response, tag, lambda: make(session))

    return await run_in_threadpool(work)


@router.get("", response_model=ProgressPublic,
            responses={**CSV, 304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def progress(_: ReaderDep, request: Request, response: Response,
                   directory: DirectoryDep, campaign: CampaignQuery, period: PeriodQuery,
                   kind: KindQuery = None, parent: ParentQuery = None,
                   format: FormatQuery = "json", header: HeaderQuery = "vi") -> Any:
    """The period's summary: completeness, timeliness, totals, coverage and loudspeaker
    compliance (counts). As CSV or XLSX, the whole period table, one row per expected
    unit."""
    view = service.period_or_raise(directory.campaigns, campaign, period, kind, parent)

    def table() -> Response:
        pages = feeds.table_pages(request.app.state.engine, directory, view)
        return table_download(format, f"progress-{campaign}-{period}", Sheet(
            "Tiến độ theo đơn vị", UNIT_TABLE,
            (row for page in pages for row in map(_unit_line, page)),
            heading=_heading("Tiến độ báo cáo theo đơn vị", view)), response, header=header)

    return await _feed(request, response, campaign, period, lambda session: feeds.progress(
        session, directory, view, today=periods.today()),
        download=table if format != "json" else None, also=f"{format}-{header}")


@router.get("/units", response_model=UnitTablePagePublic,
            responses={304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def unit_table(_: ReaderDep, request: Request, response: Response,
                     directory: DirectoryDep, campaign: CampaignQuery, period: PeriodQuery,
                     kind: KindQuery = None, parent: ParentQuery = None,
                     cursor: CursorQuery = None, limit: LimitQuery = 100) -> Any:
    """The period table, a page at a time: every expected unit by kind and code, with its
    report, counts per activity kind and broadcasts (all of it at once: `format=csv` on
    the period feed)."""
    view = service.period_or_raise(directory.campaigns, campaign, period, kind, parent)
    return await _feed(request, response, campaign, period, lambda session: feeds.unit_table(
        session, directory, view, after=cursor, limit=limit))


@router.get("/missing", response_model=MissingPagePublic,
            responses={**CSV, 304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def missing(_: ReaderDep, request: Request, response: Response,
                  directory: DirectoryDep, campaign: CampaignQuery, period: PeriodQuery,
                  kind: KindQuery = None, parent: ParentQuery = None,
                  cursor: CursorQuery = None, limit: LimitQuery = 100,
                  format: FormatQuery = "json", header: HeaderQuery = "vi") -> Any:
    """The units still expected to report for a period, by code, a page at a time (as
    CSV or XLSX, all of them)."""
    view = service.period_or_raise(directory.campaigns, campaign, period, kind, parent)

    def every() -> Response:
        return table_download(format, f"missing-{campaign}-{period}", Sheet(
            "Đơn vị chưa báo cáo", MISSING_TABLE,
            _all_missing(request.app.state.engine, directory, view),
            heading=_heading("Đơn vị chưa gửi báo cáo", view)), response, header=header)

    return await _feed(request, response, campaign, period, lambda session: feeds.missing(
        session, directory, view, after=cursor, limit=limit),
        download=every if format != "json" else None, also=f"{format}-{header}")


@router.get("/below-target", response_model=BelowTargetPagePublic,
            responses={304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def below_target(_: ReaderDep, request: Request, response: Response,
                       directory: DirectoryDep, campaign: CampaignQuery, period: PeriodQuery,
                       kind: KindQuery = None, parent: ParentQuery = None,
                       rule: Annotated[Literal["weekly", "peak_day"] | None, Query(
                           description="Only units below this target.")] = None,
                       cursor: CursorQuery = None, limit: LimitQuery = 100) -> Any:
    """Commune-level units that reported and are below a loudspeaker target, by code, with
    the weeks and peak days below it (days still to come cannot fail)."""
    view = service.period_or_raise(directory.campaigns, campaign, period, kind, parent)
    return await _feed(request, response, campaign, period, lambda session: feeds.below_target(
        session, directory, view, periods.today(), rule=rule, after=cursor, limit=limit))


@router.get("/parents", response_model=ParentsPublic,
            responses={304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def by_parent(_: ReaderDep, request: Request, response: Response,
                    directory: DirectoryDep, campaign: CampaignQuery, period: PeriodQuery,
                    kind: KindQuery = None) -> Any:
    """The period rolled up by parent: each province's completeness, timeliness and units
    below a loudspeaker target (the units without a parent last). A province's own feeds:
    `parent=` on any of the others."""
    view = service.period_or_raise(directory.campaigns, campaign, period, kind)
    return await _feed(request, response, campaign, period, lambda session: feeds.by_parent(
        session, directory, view, periods.today()))


def _own_or_reader(caller: Caller, code: str) -> None:
    """A unit's own figures: the leadership reads every unit's, a unit only its own."""
    if caller.scope == "unit" and caller.unit_code != code:
        raise Forbidden("forbidden", "a unit credential reads only its own unit's figures")


@router.get("/overview", response_model=OverviewPublic,
            responses={304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def overview(_: ReaderDep, request: Request, response: Response,
                   directory: DirectoryDep, campaign: CampaignQuery, kind: KindQuery = None,
                   parent: ParentQuery = None) -> Any:
    """Every period of the campaign in one call, for its trend: completeness and timeliness
    per unit kind, missing units and loudspeaker counts, and which period is current."""
    found, now = service.campaign_or_raise(directory.campaigns, campaign), datetime.now(UTC)
    return await _feed(request, response, campaign, None, lambda session: feeds.overview(
        session, directory, found, now, kind, parent),
        also=len(service.due_periods(found, now)))  # a deadline passed moves the states


def _campaign_and_unit(directory: Directory, campaign: str, code: str
                       ) -> tuple[CampaignSnapshot, UnitSnapshot]:
    """The campaign and the unit a unit's feed names; NotFound naming the one unknown."""
    found = service.campaign_or_raise(directory.campaigns, campaign)
    unit = directory.units.get(code)
    if unit is None:
        raise NotFound.on("code", "unit_not_found", f"no unit with code {code!r}")
    return found, unit


@router.get("/units/{code}", response_model=UnitProgressPublic,
            responses={304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def unit_progress(code: str, caller: CallerDep, request: Request, response: Response,
                        directory: DirectoryDep, campaign: CampaignQuery) -> Any:
    """One unit over the campaign: each period's standing report and its totals. For the
    leadership, or the unit's own credential."""
    _own_or_reader(caller, code)
    unit = _campaign_and_unit(directory, campaign, code)[1]
    return await _feed(request, response, campaign, None,
                       lambda session: feeds.unit_progress(session, unit, campaign))


@router.get("/units/{code}/days", response_model=UnitDaysPagePublic,
            responses={304: NOT_MODIFIED, **documented(401, 403, 404, 422)})
async def unit_days(code: str, caller: CallerDep, request: Request, response: Response,
                    directory: DirectoryDep, campaign: CampaignQuery,
                    cursor: CursorQuery = None, limit: LimitQuery = 100) -> Any:
    """One unit's loudspeaker days over the campaign, by date, a page at a time: the
    broadcasts its standing reports count each day, and whether the day is a peak day. For
    the leadership, or the unit's own credential."""
    _own_or_reader(caller, code)
    found, unit = _campaign_and_unit(directory, campaign, code)
    return await _feed(request, response, campaign, None, lambda session: feeds.unit_days(
        session, unit, found, after=cursor, limit=limit))


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


UNIT = (Column("code", "Mã đơn vị", width=16), Column("name", "Tên đơn vị", width=36),
        Column("kind", "Loại đơn vị (mã)", width=14),
        Column("parent", "Mã tỉnh, thành phố", width=12))
UNIT_TABLE = (*UNIT, Column("reported", "Đã báo cáo", "bool"),
              Column("on_time", "Đúng hạn", "bool"),
              Column("version", "Phiên bản báo cáo", "int"),
              Column("entered_by", "Người nhập thay đơn vị", width=20),
              *(Column(kind, labels.vietnamese(labels.ACTIVITY_KINDS, kind), "int", 18)
                for kind in service.ACTIVITY_KINDS),
              Column("loudspeaker_total", "Tổng số buổi phát thanh trên loa", "int", 18),
              Column("peak_day_least", "Số buổi ít nhất trong một ngày cao điểm", "int", 18),
              Column("platforms", "Nền tảng đã đăng (mã)", width=20),
              Column("languages", "Tiếng nước ngoài (mã)", width=16))
MISSING_TABLE = UNIT


def _heading(table: str, view: service.Period) -> str:
    """What a downloaded table is and as of when: the campaign, the period, the filter."""
    narrowed = "".join((
        f", loại đơn vị: {labels.vietnamese(labels.UNIT_KINDS, view.kind)}" if view.kind
        else "", f", tỉnh, thành phố mã {view.parent}" if view.parent else ""))
    return (f"{table}: {view.campaign.name} ({view.campaign.code}), kỳ {view.name} "
            f"({periods.written_day(view.start)} – {periods.written_day(view.end)})"
            f"{narrowed}. Số liệu lúc {periods.written_moment(datetime.now(UTC))}.")


def _unit_line(row: UnitRowPublic) -> tuple[Any, ...]:
    """A period table line (None: an empty cell; platforms and languages space-separated)."""
    return (row.code, row.name, row.kind, row.parent, row.reported, row.on_time, row.version,
            row.entered_by, *(row.activities[kind] for kind in service.ACTIVITY_KINDS),
            row.loudspeaker_total, row.peak_day_least, " ".join(row.platforms),
            " ".join(row.languages))


def _all_missing(engine: Engine, directory: Directory, view: service.Period
                 ) -> Iterator[tuple[str, str, str, str | None]]:
    """Every missing unit, read a page at a time."""
    after: str | None = None
    while True:
        with Session(engine) as session:
            page = feeds.missing(session, directory, view, after=after, limit=1000)
        yield from ((u.code, u.name, u.kind, u.parent) for u in page.items)
        if page.next_cursor is None:
            return
        after = page.next_cursor
