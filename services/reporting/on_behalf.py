"""Reports that reached the Department on paper or by email, entered by its staff on the
unit's behalf: the same way in as the unit's own (api.receive: the bounded body, the
numbering, the outbox), with the stated reception as the report's and who entered it in the
event."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from services.reporting import service
from services.reporting.api import IDEMPOTENCY_KEY, RECEIPTS, parse, receive
from services.reporting.schemas import ReportOnBehalfIn
from services.web.auth import DepartmentDep
from services.web.errors import documented

router = APIRouter(prefix="/v1", tags=["reports"])


@router.post("/reports/on-behalf", status_code=201,
             responses=RECEIPTS | documented(400, 401, 403, 409, 413, 415, 422, 503),
             openapi_extra={"parameters": [IDEMPOTENCY_KEY],
                            "requestBody": {"required": True, "content": {"application/json": {
                                "schema": ReportOnBehalfIn.model_json_schema(
                                    ref_template="#/components/schemas/{model}")}}}})
async def submit_on_behalf(request: Request, who: DepartmentDep) -> Response:
    """Enter a unit's report received on paper or by email (a Department credential);
    answers with a receipt that names who entered it."""
    async def check(raw: bytes, _: dict[bytes, bytes], key: str | None) -> service.Draft:
        return service.prepare_on_behalf(request.app.state.directory, who,
                                         parse(raw, ReportOnBehalfIn), key, datetime.now(UTC))

    return await receive(request, check, logged="report.entered_on_behalf",
                         credential_id=who.credential_id)
