"""The baseline for bench/intake: a bare FastAPI endpoint that validates the same report
body and answers 202, with no database, broker or authentication."""

from fastapi import FastAPI, Request, Response

from services.reporting.schemas import ReportIn

app = FastAPI()


@app.post("/v1/reports")
async def submit(request: Request) -> Response:
    """Validate and answer 202."""
    ReportIn.model_validate_json(await request.body())
    return Response(status_code=202)
