"""The reporting HTTP routes: thin, each one a service call."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlmodel import Session

from services import periods
from services.events import ReportSubmitted, UnitSnapshot
from services.http import ApiError, bearer_token, field_errors, token_of
from services.reporting import bulk, service, store
from services.reporting.metrics import IntakeMetrics
from services.reporting.models import Report
from services.reporting.schemas import Page, Receipt, ReportIn, ReportOut, report_of
from services.reporting.service import Caller

log = structlog.get_logger()
router = APIRouter(prefix="/v1", tags=["reports"])


def caller(request: Request) -> Caller:
    """The credential behind the request's bearer token."""
    token = bearer_token(request)
    return service.authenticate(request.app.state.directory, token)


CallerDep = Annotated[Caller, Depends(caller)]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


# The hot path is answered directly (see app.py and http.install), so it takes only the
# request and reads its header and body itself; this route is what the OpenAPI document shows.
IDEMPOTENCY_KEY = {"in": "header", "name": "idempotency-key", "required": False, "schema": {
    "anyOf": [{"maxLength": 200, "type": "string"}, {"type": "null"}], "title": "Idempotency-Key"}}
INVALID = {"description": "Validation Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}


@router.post("/reports", status_code=201,
             responses={200: {"description": "a replay"}, 422: INVALID},
             openapi_extra={"parameters": [IDEMPOTENCY_KEY], "requestBody": {"content": {
                 "application/json": {"schema": ReportIn.model_json_schema(
                     ref_template="#/components/schemas/{model}")}}}})
async def submit_report(request: Request) -> Response:
    """Submit a unit's report for one period; answers with a receipt."""
    given = _headers(request)
    idempotency_key = _idempotency_key(given.get(b"idempotency-key"))
    state = request.app.state
    try:
        raw = await _body(request, state.settings.max_body_bytes, given)
        who = _caller(state, given)
        unit = service.reporting_unit(state.directory, who, datetime.now(periods.LOCAL_ZONE).date())
        body = _parse(raw)
        draft = service.prepare(state.directory, unit, body, idempotency_key,
                                datetime.now(UTC))
        receipt, replayed = await state.writer.submit(draft)
    except ApiError as refusal:
        state.intake_metrics.rejected.labels(refusal.code).inc()
        raise
    _count(state.intake_metrics, receipt, replayed)
    log.info("report.replayed" if replayed else "report.accepted", unit=receipt.unit,
             report_id=receipt.report_id, period=receipt.period, version=receipt.version)
    headers = {"idempotent-replayed": "true"} if replayed else None
    return Response(receipt.model_dump_json(), status_code=200 if replayed else 201,
                    headers=headers, media_type="application/json")


_WANTED = frozenset((b"authorization", b"content-length", b"idempotency-key"))


def _headers(request: Request) -> dict[bytes, bytes]:
    """The headers intake reads, in one pass over the raw ones (Starlette's look-up scans
    them anew for each): the first of repeats counts, as there."""
    given: dict[bytes, bytes] = {}
    for name, value in request.scope["headers"]:
        if name in _WANTED:
            given.setdefault(name, value)
    return given


def _caller(state: Any, given: dict[bytes, bytes]) -> Caller:
    authorization = given.get(b"authorization", b"").decode("latin-1")
    return service.authenticate(state.directory, token_of(authorization))


def _idempotency_key(header: bytes | None) -> str | None:
    if header is None:
        return None
    key = header.decode("latin-1")
    if len(key) > 200:
        message = "String should have at most 200 characters"
        raise ApiError(422, "invalid", "the request breaks a rule", [{
            "field": "header.idempotency-key", "rule": "string_too_long", "message": message}])
    return key


async def _body(request: Request, limit: int, given: dict[bytes, bytes]) -> bytes:
    declared = given.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"the body exceeds {limit} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, "body_too_large", f"the body exceeds {limit} bytes")
    return raw


def _parse(raw: bytes) -> ReportIn:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "not_utf8", "the body must be UTF-8 encoded JSON") from None
    try:
        return ReportIn.model_validate_json(raw)
    except ValidationError as exc:
        fields = field_errors(exc.errors())
        if any(f["rule"] == "json_invalid" for f in fields):
            raise ApiError(400, "malformed_json", "the body is not valid JSON", fields) from None
        raise ApiError(422, "invalid", "the report breaks a rule", fields) from None


def _count(metrics: IntakeMetrics, receipt: Receipt, replayed: bool) -> None:
    if replayed:
        metrics.replays.inc()
        return
    (metrics.on_time if receipt.on_time else metrics.late).inc()
    if receipt.supersedes is not None:
        metrics.revisions.inc()


@router.get("/reports/{report_id}")
def get_report(report_id: str, session: SessionDep, who: CallerDep) -> ReportOut:
    """One report; a unit reads only its own."""
    report = session.get(Report, report_id)
    if report is None or (who.scope == "unit" and report.unit_code != who.unit_code):
        raise ApiError(404, "report_not_found", f"no report {report_id!r} for this credential")
    return report_of(ReportSubmitted.model_validate_json(report.event))


@router.get("/reports")
def list_reports(session: SessionDep, who: CallerDep, unit: str | None = None,
                 campaign: str | None = None, period: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 offset: Annotated[int, Query(ge=0)] = 0) -> Page[ReportOut]:
    """Reports, newest first; a unit lists only its own, leadership any unit's."""
    if who.scope == "unit":
        if unit not in (None, who.unit_code):
            raise ApiError(403, "forbidden", "a unit token lists only its own reports")
        unit = who.unit_code
    items, total = store.list_reports(session, unit_code=unit, campaign_code=campaign,
                                      period=period, limit=limit, offset=offset)
    reports = [report_of(ReportSubmitted.model_validate_json(r.event)) for r in items]
    return Page(items=reports, total=total)


@router.post("/reports/bulk", response_model=bulk.BulkResult,
             openapi_extra={"requestBody": {"content": {"text/csv": {}}}})
async def submit_bulk(request: Request, campaign: Annotated[str, Query(max_length=64)]
                      ) -> JSONResponse:
    """Submit several periods' reports as CSV; answers with a result per row."""
    state = request.app.state
    given = _headers(request)
    raw = await _body(request, state.settings.max_bulk_bytes, given)
    who = _caller(state, given)
    unit = service.reporting_unit(state.directory, who, datetime.now(periods.LOCAL_ZONE).date())
    rows: list[bulk.RowResult] = []
    counts = {"accepted": 0, "replayed": 0, "rejected": 0}
    for group in bulk.read(raw, campaign):
        outcome = await _submit_group(request, unit, group)
        rows += outcome
        counts[outcome[0].status] += 1
    result = bulk.BulkResult(**counts, rows=sorted(rows, key=lambda r: r.line))
    ok = counts["accepted"] + counts["replayed"] > 0
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if ok else 422)


async def _submit_group(request: Request, unit: UnitSnapshot,
                        group: bulk.Group) -> list[bulk.RowResult]:
    state = request.app.state
    if group.body is None:
        state.intake_metrics.rejected.labels("invalid").inc()
        return bulk.rejected(group)
    try:
        draft = service.prepare(state.directory, unit, group.body, None, datetime.now(UTC))
        receipt, replayed = await state.writer.submit(draft)
    except ApiError as refusal:
        if refusal.status >= 500:  # the client should retry the file, not fix a row
            raise
        state.intake_metrics.rejected.labels(refusal.code).inc()
        return bulk.rejected(group, refusal)
    _count(state.intake_metrics, receipt, replayed)
    return bulk.accepted(group, receipt.report_id, replayed)
