"""The compiled report for the City People's Committee, from the portal: a form for the days
it covers and the time its figures stand at, and the Word or Excel file the aggregator
compiles (GET /v1/reports/compiled) under the reader's own token."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from services import periods
from services.portal.backends import Answer
from services.portal.pages import PageRefused, _campaign, _must, _state, language, need, render
from services.portal.texts import rule_message

router = APIRouter(include_in_schema=False)
FILES = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# the form's inputs, by the query parameter of the aggregator's they fill
INPUTS = {"from": "tu-ngay", "to": "den-ngay", "as_of": "tinh-den"}
READERS = ("leadership", "department")


@router.get("/lanh-dao/bao-cao-tong-hop", response_class=HTMLResponse)
async def report_page(request: Request) -> Response:
    """The form: the campaign's days by default, figures as of now unless a time is given."""
    need(request, *READERS)
    return await _page(request, {}, 200)


@router.get("/lanh-dao/bao-cao-tong-hop.{ext}")
async def report_file(request: Request, ext: str) -> Response:
    """The report as the aggregator compiles it; a refused input is shown beside it."""
    session = need(request, *READERS)
    if ext not in FILES:
        raise PageRefused(404, "not_found")
    _, backends, settings = _state(request)
    given = {name: request.query_params.get(key) or None for name, key in INPUTS.items()}
    download = await backends.download(session.token, "/v1/reports/compiled",
                                       campaign=settings.campaign, format=ext, **given)
    if download.status == 422:
        lang = language(request)
        errors = {INPUTS.get(p["field"].removeprefix("query."), "tinh-den"):
                  rule_message(p["rule"], lang) for p in await download.problems()}
        return await _page(request, errors, 422)
    if download.status != 200:
        await download.close()
        _must(Answer(download.status, None))  # signed out, refused, not found, or down
    return StreamingResponse(download.chunks(), media_type=FILES[ext], headers={
        "content-disposition": download.headers.get(
            "content-disposition", f'attachment; filename="bao-cao.{ext}"'),
        "x-as-of": download.headers.get("x-as-of", "")})


async def _page(request: Request, errors: dict[str, str], status: int) -> Response:
    session = need(request, *READERS)
    _, backends, settings = _state(request)
    campaign = _must(await _campaign(backends, session, settings.campaign))
    values: dict[str, Any] = {key: request.query_params.get(key, "") for key in
                              INPUTS.values()}
    values["tu-ngay"] = values["tu-ngay"] or campaign["starts_on"]
    values["den-ngay"] = values["den-ngay"] or campaign["ends_on"]
    return render(request, "compiled_report.html", status, campaign=campaign, values=values,
                  errors=errors, today=periods.today().isoformat())
