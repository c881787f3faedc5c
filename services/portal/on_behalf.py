"""The Department's pages for a report received on paper or by email: the unit's report
form, with the unit, when the report arrived and how, sent to the reporting service's
POST /v1/reports/on-behalf under the staff member's own token."""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services import periods
from services.portal import forms
from services.portal.backends import BackendDown
from services.portal.pages import (
    _calendar,
    _day,
    _form,
    _local,
    _must,
    _period_of,
    _state,
    attempt_key,
    language,
    need,
    posted_report,
    problems_on_inputs,
    render,
)

router = APIRouter(include_in_schema=False)
# the inputs of the entry's own fields, by the field a refusal names
INPUTS = {"unit": "don-vi", "received_at": "ngay-nhan", "note": "ghi-chu-nhan",
          "report_note": "ghi-chu"}


@router.get("/so/nhap-thay", response_class=HTMLResponse)
async def periods_page(request: Request) -> Response:
    """The periods a report can be entered for: those begun."""
    session = need(request, "department")
    _, backends, settings = _state(request)
    calendar = _must(await _calendar(backends, session, settings.campaign))
    today = periods.today().isoformat()
    begun = [p for p in calendar["items"] if p["starts_on"] <= today]
    return render(request, "on_behalf_periods.html", periods=begun, day=_day, local=_local)


@router.get("/so/nhap-thay/{period}", response_class=HTMLResponse)
async def entry_form(request: Request, period: str) -> Response:
    """The report form of a period, with the entry's own fields."""
    session = need(request, "department")
    _, backends, settings = _state(request)
    found = await _period_of(backends, session, settings.campaign, period)
    return await _form(request, session, found, {}, {}, [], **_entry(period))


@router.post("/so/nhap-thay/{period}", response_class=HTMLResponse)
async def enter(request: Request, period: str) -> Response:
    """Send the entry; its receipt, or the form again with what to fix."""
    session = need(request, "department")
    found, values, filled = await posted_report(request, session, period)
    body = entry_body(values, filled)
    for name, given in (("don-vi", body["unit"]), ("ngay-nhan", body["received_at"]),
                        ("ghi-chu-nhan", body["note"])):
        if not given:
            filled.errors[name] = "missing"
    if filled.errors:
        return await _form(request, session, found, values, filled.errors, [], status=422,
                           **_entry(period))
    answer = await _state(request)[1].post("reporting", "/v1/reports/on-behalf",
                                           session.token, body,
                                           headers={"idempotency-key": attempt_key(values)})
    if answer.ok:
        return render(request, "receipt.html", report=answer.body, code=body["unit"],
                      local=_local, back=f"/so/nhap-thay/{quote(period)}")
    if answer.status in (401, 403, 409, 413, 422):
        errors, general = problems_on_inputs(answer.problems(), filled.origin,
                                             language(request), INPUTS)
        return await _form(request, session, found, values, errors, general, status=422,
                           **_entry(period))
    raise BackendDown(f"intake answered {answer.status}")


def entry_body(values: dict[str, str], filled: forms.Filled) -> dict[str, Any]:
    """The on-behalf body of a posted form: the report's lines, the unit's own note as
    `report_note`, and the entry's fields (a day, and a time if one was given)."""
    body = dict(filled.body)
    if "note" in body:
        body["report_note"] = body.pop("note")
    day, at = values.get("ngay-nhan", "").strip(), values.get("gio-nhan", "").strip()
    return body | {"unit": values.get("don-vi", "").strip(),
                   "received_at": f"{day}T{at}" if day and at else day,
                   "note": values.get("ghi-chu-nhan", "").strip()}


def _entry(period: str) -> dict[str, Any]:
    return {"action": f"/so/nhap-thay/{quote(period)}", "on_behalf": True}
