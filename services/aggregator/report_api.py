"""The compiled report for the City People's Committee: a thin route over compiled.py and
documents.py."""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from services import periods
from services.aggregator import compiled, documents, service
from services.refusals import Invalid
from services.web.auth import ReaderDep
from services.web.errors import documented
from services.web.schemas import LocalInstant

router = APIRouter(prefix="/v1/reports", tags=["compiled report"])

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILES: dict[int | str, dict[str, Any]] = {200: {
    "content": {DOCX: {}, XLSX: {}},
    "description": "The report as a Word document (`format=docx`) or a workbook "
                   "(`format=xlsx`); the `x-as-of` header gives the time its figures stand at."}}


@router.get("/compiled", response_class=Response, responses=FILES | documented(401, 403, 404,
                                                                               422))
async def compiled_report(
        _: ReaderDep, request: Request,
        campaign: Annotated[str, Query(max_length=64, description="Campaign code.")],
        start: Annotated[date | None, Query(alias="from", description="First day covered "
                                            "(default: the campaign's first).")] = None,
        end: Annotated[date | None, Query(alias="to", description="Last day covered "
                                          "(default: the campaign's last).")] = None,
        as_of: Annotated[LocalInstant | None, Query(description="Count the reports recorded up "
                                                "to this time (default: now); without a zone, "
                                                "Hai Phong time. The same `as_of` always "
                                                "gives the same figures.")] = None,
        format: Annotated[Literal["docx", "xlsx"], Query(description="docx (Word) or xlsx "
                                                         "(Excel).")] = "docx") -> Response:
    """The campaign's compiled report as of a stated time, as a Word document or a workbook."""
    state = request.app.state
    found = service.campaign_or_raise(state.directory.campaigns, campaign)
    moment = _as_of(as_of)

    def work() -> bytes:
        with Session(state.engine) as session:
            report = compiled.compile_report(session, state.directory, found, start, end,
                                             moment)
        if format == "xlsx":
            return documents.workbook(report)
        return documents.docx(report, state.settings.report_template or documents.TEMPLATE)

    body = await run_in_threadpool(work)
    name = f"bao-cao-{campaign}-{periods.local_moment(moment):%Y%m%d-%H%M%S}.{format}"
    return Response(body, media_type=DOCX if format == "docx" else XLSX, headers={
        "content-disposition": f'attachment; filename="{name}"',
        "x-as-of": moment.isoformat(), "cache-control": "private, no-cache"})


def _as_of(given: datetime | None) -> datetime:
    """The stated time (UTC, LocalInstant) to the second: what the document states, so
    asking again with the time it printed gives the same figures. A time still to come is
    refused: its figures could still change."""
    now = datetime.now(UTC).replace(microsecond=0)
    if given is None:
        return now
    if (moment := given.replace(microsecond=0)) > now:
        raise Invalid.on("as_of", "as_of_in_future", "the report can only be compiled as of a "
                         "time that has passed")
    return moment
