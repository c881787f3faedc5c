"""The reporting HTTP routes: thin, each one a service call. They raise domain refusals
(services.refusals); services.web.errors gives each its status."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from services.events import ReportSubmitted, UnitSnapshot
from services.refusals import (
    Conflict,
    FieldProblem,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    Refusal,
    TooLarge,
    Unavailable,
    UnsupportedMediaType,
)
from services.reporting import bulk, service, store
from services.reporting.metrics import IntakeMetrics
from services.reporting.schemas import (
    BulkResult,
    Receipt,
    ReportIn,
    ReportOut,
    RowResult,
    report_of,
)
from services.web.auth import SECURITY, Caller, CallerDep, caller_of, token_of
from services.web.db import SessionDep
from services.web.errors import ErrorBody, documented, invalid_body
from services.web.schemas import OffsetQuery, Page

log = structlog.get_logger()
router = APIRouter(prefix="/v1", tags=["reports"])


# The hot path is answered directly (see app.py and services.web.edge.install), so it takes
# only the request and reads its headers and body itself; this route is what the OpenAPI
# document shows.
IDEMPOTENCY_KEY = {"in": "header", "name": "idempotency-key", "required": False, "schema": {
    "anyOf": [{"maxLength": 200, "type": "string"}, {"type": "null"}], "title": "Idempotency-Key"}}
RECEIPTS: dict[int | str, dict[str, Any]] = {
    201: {"model": Receipt, "description": "Stored: its receipt"},
    200: {"model": Receipt, "description": "A replay: the first receipt again", "headers": {
        "idempotent-replayed": {"description": "`true`", "schema": {"type": "string"}}}}}


@router.post("/reports", status_code=201,
             responses=RECEIPTS | documented(400, 401, 403, 409, 413, 415, 422, 503),
             openapi_extra={"parameters": [IDEMPOTENCY_KEY], "security": SECURITY,
                            "requestBody": {"content": {"application/json": {
                                "schema": ReportIn.model_json_schema(
                                    ref_template="#/components/schemas/{model}")}}}})
async def submit_report(request: Request) -> Response:
    """Submit a unit's report for one period; answers with a receipt."""
    async def check(raw: bytes, given: dict[bytes, bytes], key: str | None) -> service.Draft:
        state = request.app.state
        unit = service.reporting_unit(state.directory, await _caller(state, given))
        return service.prepare(state.directory, unit, parse(raw, ReportIn), key,
                               datetime.now(UTC))

    return await receive(request, check, logged="report.accepted")


Check = Callable[[bytes, dict[bytes, bytes], str | None], Awaitable[service.Draft]]


async def receive(request: Request, check: Check, *, logged: str, **context: Any) -> Response:
    """A report's one way in, whoever sends it: its body read (refused once over the limit,
    before it is all read), `check`ed into a draft (given the body, the headers and the
    idempotency key), submitted, and answered with its receipt (201, or 200 for a replay).
    `logged` names the log event of a new report; `context` goes with it."""
    given = _headers(request)
    idempotency_key = _idempotency_key(given.get(b"idempotency-key"))
    state = request.app.state
    try:
        _require_media_type(given.get(b"content-type"), b"application/json")
        raw = await _body(request, state.settings.max_body_bytes, given.get(b"content-length"))
        draft = await check(raw, given, idempotency_key)
        receipt, replayed = await state.writer.submit(draft)
    except Refusal as refusal:
        state.intake_metrics.rejected.labels(refusal.code).inc()
        raise
    _count(state.intake_metrics, receipt, replayed)
    log.info("report.replayed" if replayed else logged, unit=receipt.unit,
             report_id=receipt.report_id, period=receipt.period, version=receipt.version,
             **context)
    headers = {"idempotent-replayed": "true"} if replayed else None
    return Response(receipt.model_dump_json(), status_code=200 if replayed else 201,
                    headers=headers, media_type="application/json")


_WANTED = frozenset((b"authorization", b"content-length", b"content-type", b"idempotency-key"))


def _headers(request: Request) -> dict[bytes, bytes]:
    """The headers intake reads, in one pass over the raw ones (Starlette's look-up scans
    them anew for each): the first of repeats counts, as there."""
    given: dict[bytes, bytes] = {}
    for name, value in request.scope["headers"]:
        if name in _WANTED:
            given.setdefault(name, value)
    return given


async def _caller(state: Any, given: dict[bytes, bytes]) -> Caller:
    authorization = given.get(b"authorization", b"").decode("latin-1")
    return await caller_of(state.identify, token_of(authorization))


def _require_media_type(header: bytes | None, wanted: bytes) -> None:
    """Refuse a body not declared as `wanted` (parameters such as a charset aside): a form or
    text/plain, which a browser sends from any site without asking, is not a report."""
    if header != wanted and (header is None or
                             header.split(b";", 1)[0].strip().lower() != wanted):
        raise UnsupportedMediaType.on("header.content-type", "unsupported_media_type",
                                      f"the body must be {wanted.decode()}")


def _idempotency_key(header: bytes | None) -> str | None:
    if header is None:
        return None
    key = header.decode("latin-1")
    if len(key) > 200:
        raise Invalid("invalid", "the request breaks a rule", [FieldProblem(
            "header.idempotency-key", "string_too_long",
            "String should have at most 200 characters")])
    return key


async def _body(request: Request, limit: int, declared: bytes | None) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` (declared or streamed)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge("body_too_large", f"the body exceeds {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise TooLarge("body_too_large", f"the body exceeds {limit} bytes")
    return raw


Body = TypeVar("Body", bound=BaseModel)


def parse(raw: bytes, model: type[Body]) -> Body:
    """A JSON body as `model`: 400 if it is not UTF-8 JSON, 422 naming each field at fault."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not_utf8", "the body must be UTF-8 encoded JSON") from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid_body(exc.errors(), "the report breaks a rule") from None


def _count(metrics: IntakeMetrics, receipt: Receipt, replayed: bool) -> None:
    if replayed:
        metrics.replays.inc()
        return
    (metrics.on_time if receipt.on_time else metrics.late).inc()
    if receipt.supersedes is not None:
        metrics.revisions.inc()


@router.get("/reports/{report_id}", responses=documented(401, 403, 404, 409, 422))
def get_report(report_id: str, session: SessionDep, who: CallerDep,
               unit: Annotated[str | None, Query(
                   description="The unit whose report this is: a report id is unique within "
                               "its unit. A unit's token reads its own; others may leave it "
                               "out where one unit alone uses the id.")] = None) -> ReportOut:
    """One report; a unit reads only its own."""
    if who.scope == "unit":
        if unit not in (None, who.unit_code):
            raise Forbidden.on("unit", "forbidden", "a unit token reads only its own reports")
        unit = who.unit_code
    found = store.reports_with_id(session, report_id, unit_code=unit)
    if not found:
        raise NotFound("report_not_found", f"no report {report_id!r} for this credential")
    if len(found) > 1:
        units = ", ".join(sorted(r.unit_code for r in found))
        raise Conflict.on("unit", "report_id_ambiguous", f"units {units} each have a report "
                          f"{report_id!r}: name the unit with ?unit=")
    return report_of(ReportSubmitted.model_validate_json(found[0].event))


@router.get("/reports", responses=documented(401, 403, 422))
def list_reports(session: SessionDep, who: CallerDep, unit: str | None = None,
                 campaign: str | None = None, period: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 offset: OffsetQuery = 0) -> Page[ReportOut]:
    """Reports, newest first; a unit lists only its own, leadership any unit's."""
    if who.scope == "unit":
        if unit not in (None, who.unit_code):
            raise Forbidden("forbidden", "a unit token lists only its own reports")
        unit = who.unit_code
    items, total = store.list_reports(session, unit_code=unit, campaign_code=campaign,
                                      period=period, limit=limit, offset=offset)
    reports = [report_of(ReportSubmitted.model_validate_json(r.event)) for r in items]
    return Page(items=reports, total=total)


@router.post("/reports/bulk", response_model=BulkResult,
             responses=documented(400, 401, 403, 413, 415, 503) | {422: {
                 "model": BulkResult | ErrorBody, "description": "Every period refused (a "
                 "result per row), or a file that cannot be read (an error)"}},
             openapi_extra={"requestBody": {"content": {
                 bulk.CSV: {"schema": {"type": "string"}},
                 bulk.XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
async def submit_bulk(request: Request, who: CallerDep,
                      campaign: Annotated[str, Query(max_length=64)]) -> JSONResponse:
    """Submit several periods' reports as a CSV file or an Excel workbook (the template of
    GET /v1/reports/bulk/template.xlsx); answers with a result per row."""
    state = request.app.state
    given = _headers(request)
    media = _bulk_media(given.get(b"content-type"))
    raw = await _body(request, state.settings.max_bulk_bytes, given.get(b"content-length"))
    unit = service.reporting_unit(state.directory, who)
    rows: list[RowResult] = []
    counts = {"accepted": 0, "replayed": 0, "rejected": 0}
    # a workbook takes a while to unpack and read: not on the event loop
    for group in await run_in_threadpool(bulk.read, raw, campaign, media):
        outcome = await _submit_group(request, unit, group)
        rows += outcome
        counts[outcome[0].status] += 1
    result = BulkResult(**counts, rows=bulk.listed(rows))
    ok = counts["accepted"] + counts["replayed"] > 0
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if ok else 422)


_BULK_MEDIA = {bulk.CSV.encode(): bulk.CSV, bulk.XLSX.encode(): bulk.XLSX}


def _bulk_media(header: bytes | None) -> str:
    """The bulk file's format, as its content type declares it (parameters aside)."""
    declared = (header or b"").split(b";", 1)[0].strip().lower()
    if declared not in _BULK_MEDIA:
        raise UnsupportedMediaType.on("header.content-type", "unsupported_media_type",
                                      f"the body must be {bulk.CSV} or {bulk.XLSX}")
    return _BULK_MEDIA[declared]


async def _submit_group(request: Request, unit: UnitSnapshot,
                        group: bulk.Group) -> list[RowResult]:
    state = request.app.state
    if group.body is None:
        state.intake_metrics.rejected.labels("invalid").inc()
        return bulk.rejected(group)
    try:
        draft = service.prepare(state.directory, unit, group.body, None, datetime.now(UTC))
        receipt, replayed = await state.writer.submit(draft)
    except Unavailable:  # the client should retry the file, not fix a row
        raise
    except Refusal as refusal:
        state.intake_metrics.rejected.labels(refusal.code).inc()
        return bulk.rejected(group, refusal)
    _count(state.intake_metrics, receipt, replayed)
    return bulk.accepted(group, receipt.report_id, replayed)
