"""Reports that reached the Department on paper or by email, entered by its staff on the
unit's behalf: the same checks, numbering and outbox as the unit's own (service.py), with
the stated reception as the report's and who entered it in the event."""

from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Request, Response

from services.refusals import Refusal
from services.reporting import service
from services.reporting.api import RECEIPTS, _count
from services.reporting.schemas import ReportOnBehalfIn
from services.web.auth import DepartmentDep
from services.web.errors import documented

log = structlog.get_logger()
router = APIRouter(prefix="/v1", tags=["reports"])


@router.post("/reports/on-behalf", status_code=201,
             responses=RECEIPTS | documented(401, 403, 409, 413, 422, 503))
async def submit_on_behalf(
        request: Request, body: ReportOnBehalfIn, who: DepartmentDep,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    """Enter a unit's report received on paper or by email (a Department credential);
    answers with a receipt that names who entered it."""
    state = request.app.state
    try:
        draft = service.prepare_on_behalf(state.directory, who, body, idempotency_key,
                                          datetime.now(UTC))
        receipt, replayed = await state.writer.submit(draft)
    except Refusal as refusal:
        state.intake_metrics.rejected.labels(refusal.code).inc()
        raise
    _count(state.intake_metrics, receipt, replayed)
    log.info("report.replayed" if replayed else "report.entered_on_behalf",
             unit=receipt.unit, report_id=receipt.report_id, period=receipt.period,
             version=receipt.version, credential_id=who.credential_id)
    headers = {"idempotent-replayed": "true"} if replayed else None
    return Response(receipt.model_dump_json(), status_code=200 if replayed else 201,
                    headers=headers, media_type="application/json")
