"""A unit's bulk report from the portal: the campaign's Excel template, fetched from the
reporting service (GET /v1/reports/bulk/template.xlsx) under the officer's own token, and
the filled file sent back to POST /v1/reports/bulk as it is, its result shown row by row
(the line, the column and the explanation, in the reader's language)."""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.pages import _check_csrf, _must, _state, language, need, render
from services.portal.texts import rule_message

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
MAX_BULK_BYTES = 5 * 1024 * 1024  # the reporting service's own limit (REPORTING_MAX_BULK_BYTES)


@router.get("/don-vi/{code}/mau-bao-cao.xlsx")
async def bulk_template(request: Request, code: str) -> Response:
    """The campaign's template, as the reporting service makes it."""
    session = need(request, "unit", unit=code)
    _, backends, settings = _state(request)
    # the one HTTP call of Backends, its bytes kept (`get` reads JSON)
    answer = await backends._call("GET", "reporting", "/v1/reports/bulk/template.xlsx",
                                  session.token, params={"campaign": settings.campaign},
                                  raw=True)
    content = _must(answer)
    name = re.sub(r"[^A-Za-z0-9_-]", "-", settings.campaign)
    return Response(content, media_type=XLSX, headers={
        "content-disposition": f'attachment; filename="mau-bao-cao-{name}.xlsx"'})


@router.post("/don-vi/{code}/nop-tep", response_class=HTMLResponse)
async def bulk_upload(request: Request, code: str) -> Response:
    """The filled file, sent to intake; the page says what became of each period and row."""
    session = need(request, "unit", unit=code)
    form = await request.form()
    _check_csrf(session, form)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _result(request, code, refused=rule_message("missing", language(request)))
    content = await upload.read(MAX_BULK_BYTES + 1)
    if len(content) > MAX_BULK_BYTES:
        return _result(request, code, 413, refused=rule_message(
            "bulk_too_large", language(request)))
    _, backends, settings = _state(request)
    answer = await backends.send("reporting", "/v1/reports/bulk", session.token, content,
                                 media_of(upload.filename or "", content),
                                 campaign=settings.campaign)
    if answer.status in (200, 422) and isinstance(answer.body, dict) and "rows" in answer.body:
        return _result(request, code, answer.status, outcome=answer.body)
    if answer.status in (400, 413, 415, 422):
        return _result(request, code, answer.status, refused=_refusal(answer.body,
                                                                     language(request)))
    _must(answer)  # signed out, refused, or down
    raise AssertionError(answer.status)  # pragma: no cover: _must raised


def media_of(filename: str, content: bytes) -> str:
    """The file's content type for intake: a workbook by its name or its zip signature,
    else CSV."""
    if filename.lower().endswith(".xlsx") or content.startswith(b"PK\x03\x04"):
        return XLSX
    return CSV


def _refusal(body: Any, lang: str) -> str:
    """A refused file's reason: the rule in the reader's language, then the service's
    words (Vietnamese first, such as how to save a CSV file as UTF-8)."""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    fields = [f"{f.get('field', '')}: {rule_message(str(f.get('rule', '')), lang)}"
              for f in error.get("fields") or [] if f.get("field")]
    said = rule_message(str(error.get("code", "")), lang)
    return " ".join([said, *fields, str(error.get("message", ""))]).strip()


def _result(request: Request, code: str, status: int = 200, *,
            outcome: dict[str, Any] | None = None, refused: str | None = None) -> Response:
    lang = language(request)
    rows = (outcome or {}).get("rows", [])
    problems = [{"line": row["line"], "period": row["period"], "column": p.get("column", ""),
                 "explanation": explained(p.get("explanation", ""), lang)}
                for row in rows for p in row.get("errors", [])]
    by_period: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_period.setdefault(row["period"], {"status": row["status"],
                                             "report_id": row.get("report_id"), "lines": []})
        by_period[row["period"]]["lines"].append(row["line"])
    return render(request, "bulk_result.html", status, code=code, outcome=outcome,
                  refused=refused, problems=problems, periods=by_period)


def explained(explanation: str, lang: str) -> str:
    """A row problem's explanation in the reader's language: intake writes it Vietnamese
    first, then ` / Line ...` in English."""
    vi, found, en = explanation.partition(" / Line ")
    return f"Line {en}" if lang == "en" and found else vi
