"""The portal's pages: thin routes that call the services and render a template.

A unit's session opens its own unit's pages; a leadership session the campaign's pages and
any unit's page (read only). Every other page answers 403. Forms carry the session's CSRF
token; the sign-in form, before there is a session, a cookie's (double submit).
"""

import asyncio
import secrets
import uuid
from collections.abc import Coroutine
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from services import periods
from services.events import COMMUNE_LEVEL
from services.portal import charts, forms
from services.portal.backends import Answer, BackendDown, Backends
from services.portal.sessions import PortalSession, Sessions
from services.portal.texts import (
    CHANNELS,
    FOREIGN_FORMATS,
    KINDS,
    LANGUAGE_NAMES,
    LANGUAGES,
    OTHER_KINDS,
    PLATFORMS,
    SOCIAL_FORMATS,
    WEEKDAYS,
    pick,
    rule_message,
    text,
)
from services.web.downloads import CSV_TYPE, table_download
from services.web.spreadsheets import MEDIA_TYPE, Column, Sheet

SESSION_COOKIE, LANGUAGE_COOKIE, SIGN_IN_COOKIE = "hp_session", "hp_lang", "hp_sign_in"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.auto_reload = False  # templates change with a release, not while serving
MISSING_SHOWN = 50  # the missing units listed with their contacts on a period page
TABLE_ROWS = 100  # the period table's units a page (the rest: next page, or the CSV)
router = APIRouter(include_in_schema=False)


class PageRefused(Exception):
    """A page this session may not open (403), or that does not exist (404)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status, self.key = status, key


class SignInFirst(Exception):
    """No live session: the sign-in page, then back here."""


# --- helpers -----------------------------------------------------------------------------


def language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LANGUAGES else "vi"


def _local(moment: datetime | str | None) -> str:
    """A moment of an API's answer as people here write it (services.periods)."""
    if moment is None:
        return ""
    return periods.written_moment(datetime.fromisoformat(moment) if isinstance(moment, str)
                                  else moment)


def _day(value: date | str | None) -> str:
    """A day of an API's answer as people here write it."""
    if value is None:
        return ""
    return periods.written_day(date.fromisoformat(value) if isinstance(value, str) else value)


def _percent(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.1f}%".replace(".", ",")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    session: PortalSession | None = getattr(request.state, "portal_session", None)
    return TEMPLATES.TemplateResponse(request, name, status_code=status, context={
        "lang": lang, "t": lambda key, **v: text(key, lang, **v),
        "pick": lambda pair: pick(pair, lang), "session": session,
        "path": request.url.path, "kinds": KINDS, **context})


def _state(request: Request) -> tuple[Sessions, Backends, Any]:
    state = request.app.state
    return state.sessions, state.backends, state.settings


def need(request: Request, *scopes: str, unit: str | None = None) -> PortalSession:
    """The request's session if it may open this page: of one of `scopes` (and, for a unit
    session, of the unit `unit`); SignInFirst without one, PageRefused(403) otherwise."""
    sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInFirst()
    request.state.portal_session = session
    if session.scope not in scopes or (session.scope == "unit" and unit is not None
                                       and session.unit_code != unit):
        raise PageRefused(403, "forbidden")
    return session


def _check_csrf(session: PortalSession, form: Any) -> None:
    if not session.csrf_ok(form.get("csrf")):
        raise PageRefused(403, "csrf")


def _calendar(backends: Backends, session: PortalSession, campaign: str
              ) -> Coroutine[Any, Any, Answer]:
    """The campaign's periods (the registry's answer, kept a moment: it rarely changes)."""
    return backends.shared("registry", f"/v1/campaigns/{quote(campaign)}/periods", session.token)


def _campaign(backends: Backends, session: PortalSession, campaign: str
              ) -> Coroutine[Any, Any, Answer]:
    """The campaign: its calendar and targets (kept a moment, as its periods)."""
    return backends.shared("registry", f"/v1/campaigns/{quote(campaign)}", session.token)


def _must(answer: Answer) -> Any:
    if answer.status == 401:  # the token was revoked since signing in
        raise SignInFirst()
    if answer.status == 403:
        raise PageRefused(403, "forbidden")
    if answer.status == 404:
        raise PageRefused(404, "not_found")
    if not answer.ok:
        raise BackendDown(f"answer {answer.status}")
    return answer.body


# --- signing in and out ------------------------------------------------------------------


@router.get("/dang-nhap", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    return _sign_in(request)


def _sign_in(request: Request, status: int = 200, error: str | None = None) -> Response:
    kept = request.cookies.get(SIGN_IN_COOKIE) or ""  # a second tab's form stays good
    csrf = kept if 30 <= len(kept) <= 64 and kept.isascii() else secrets.token_urlsafe(32)
    page = render(request, "sign_in.html", status, csrf=csrf, error=error,
                  next=_local_path(request.query_params.get("next")))
    _cookie(request, page, SIGN_IN_COOKIE, csrf, max_age=3600)
    return page


@router.post("/dang-nhap")
async def sign_in(request: Request) -> Response:
    sessions, backends, _ = _state(request)
    form = await request.form()
    given, cookie = form.get("csrf"), request.cookies.get(SIGN_IN_COOKIE) or ""
    if not isinstance(given, str) or not given or \
            not secrets.compare_digest(given.encode(), cookie.encode()):
        raise PageRefused(403, "csrf")
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    if not token or not token.isascii() or len(token) > 200:  # no token looks like that
        return _sign_in(request, 401, "token_refused")
    who = await backends.get("registry", "/v1/credentials/me", token)
    if who.status in (401, 403):
        return _sign_in(request, 401, "token_refused")
    body = _must(who)
    session = sessions.open(PortalSession(
        token=token, scope=body["scope"], unit_code=body.get("unit_code"),
        kind=body.get("unit_kind"),
        name=body.get("unit_name") or body.get("label") or body["scope"]))
    sessions.close(request.cookies.get(SESSION_COOKIE))  # the one signed in before, if any
    answer = RedirectResponse(_local_path(str(form.get("next") or "")) or "/", 303)
    _cookie(request, answer, SESSION_COOKIE, session.id)
    answer.delete_cookie(SIGN_IN_COOKIE, path="/")
    return answer


@router.post("/dang-xuat")
async def sign_out(request: Request) -> Response:
    session = need(request, "unit", "leadership", "admin", "department")
    _check_csrf(session, await request.form())
    request.app.state.sessions.close(session.id)
    answer = RedirectResponse("/dang-nhap", 303)
    answer.delete_cookie(SESSION_COOKIE, path="/")
    return answer


def _cookie(request: Request, response: Response, name: str, value: str,
            max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=request.app.state.settings.secure_cookies)


def _local_path(path: str | None) -> str | None:
    """A path on this site to go back to (never another site's: `//host`, `/\\host`)."""
    if path and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return None


@router.get("/ngon-ngu/{lang}")
async def switch_language(request: Request, lang: str) -> Response:
    answer = RedirectResponse(_local_path(request.query_params.get("next")) or "/", 303)
    if lang in LANGUAGES:
        answer.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, path="/",
                          samesite="lax", secure=request.app.state.settings.secure_cookies)
    return answer


@router.get("/")
async def home(request: Request) -> Response:
    session = need(request, "unit", "leadership", "admin", "department")
    if session.scope == "unit":
        return RedirectResponse(f"/don-vi/{session.unit_code}", 303)
    if session.scope == "department":
        return RedirectResponse("/so/nhap-thay", 303)
    return RedirectResponse("/quan-tri" if session.scope == "admin" else "/lanh-dao", 303)


# --- a unit's pages ----------------------------------------------------------------------


@router.get("/don-vi/{code}", response_class=HTMLResponse)
async def unit_home(request: Request, code: str) -> Response:
    session = need(request, "unit", "leadership", unit=code)
    _, backends, settings = _state(request)
    campaign = settings.campaign
    calendar, standing, sent, days, found = [_must(a) for a in await asyncio.gather(
        _calendar(backends, session, campaign),
        backends.get("aggregator", f"/v1/progress/units/{quote(code)}", session.token,
                     campaign=campaign),
        backends.get("reporting", "/v1/reports", session.token, unit=code, campaign=campaign,
                     limit=20),
        backends.get("aggregator", f"/v1/progress/units/{quote(code)}/days", session.token,
                     campaign=campaign, limit=1000),
        _campaign(backends, session, campaign))]
    targets = found["targets"].get(standing["unit"]["kind"], {})
    by_period = {p["period"]: p for p in standing["periods"]}
    today = periods.today().isoformat()
    rows = []
    for item in calendar["items"]:
        report = by_period.get(item["period"])
        state = ("reported_on_time" if report["on_time"] else "reported_late") if report \
            else "upcoming" if item["starts_on"] > today else \
            "overdue" if item["due"] else "not_reported"
        judged = report and standing["unit"]["kind"] in COMMUNE_LEVEL
        rows.append(item | {"state": state, "report": report, "duty": _duty(
            item, days["items"], targets, found, today) if judged else None})
    return render(request, "unit_home.html", unit=standing["unit"], rows=rows,
                  current=calendar["current"], sent=sent["items"], own=session.scope == "unit",
                  targets=targets, day=_day, local=_local)


def _duty(period: dict[str, Any], days: list[dict[str, Any]], targets: dict[str, Any],
          campaign: dict[str, Any], today: str) -> dict[str, Any] | None:
    """A reported period's broadcasts against the loudspeaker targets, as the aggregator
    judges them: the week's total against the weekly target once the week has ended (a
    monthly period shows its total only), and the fewest on a peak day so far (a day not
    reported counts 0). `met`: True, False, or None while the week is still running."""
    weekly, daily = targets.get("loudspeaker_per_week"), targets.get("loudspeaker_per_peak_day")
    if weekly is None and daily is None:
        return None
    mine = {d["day"]: d["broadcasts"] for d in days if d["period"] == period["period"]}
    total = sum(mine.values())
    if campaign["reporting_period"] != "iso_week":
        weekly = None
    weekly_met = None if weekly is None else True if total >= weekly else \
        False if period["ends_on"] < today else None
    start, end = date.fromisoformat(period["starts_on"]), date.fromisoformat(period["ends_on"])
    peaks = [d.isoformat() for d in forms.days_of(start, end) if d.isoformat() <= today and any(
        w["starts_on"] <= d.isoformat() <= w["ends_on"] for w in campaign["peak_windows"])]
    least = min((mine.get(d, 0) for d in peaks), default=None)
    return {"total": total, "weekly": weekly, "weekly_met": weekly_met, "least": least,
            "daily": daily, "daily_met": None if daily is None or least is None
            else least >= daily}


async def _period_of(backends: Backends, session: PortalSession, campaign: str,
                     period: str) -> dict[str, Any]:
    calendar = _must(await _calendar(backends, session, campaign))
    found = next((p for p in calendar["items"] if p["period"] == period), None)
    if found is None:
        raise PageRefused(404, "not_found")
    return dict(found)


@router.get("/don-vi/{code}/bao-cao/{period}", response_class=HTMLResponse)
async def report_form(request: Request, code: str, period: str) -> Response:
    session = need(request, "unit", unit=code)
    _, backends, settings = _state(request)
    found = await _period_of(backends, session, settings.campaign, period)
    latest = _must(await backends.get("reporting", "/v1/reports", session.token,
                                            unit=code, campaign=settings.campaign,
                                            period=period, limit=1))
    values, dropped = forms.values_of(latest["items"][0]) if latest["items"] else ({}, 0)
    notices = [text("not_on_form", language(request), count=dropped)] if dropped else []
    return await _form(request, session, found, values, {}, [],
                       revision=bool(latest["items"]), notices=notices)


async def _form(request: Request, session: PortalSession, period: dict[str, Any],
                values: dict[str, str], errors: dict[str, str], general: list[str],
                revision: bool = False, status: int = 200,
                notices: list[str] | None = None, **extra: Any) -> Response:
    _, backends, settings = _state(request)
    campaign = _must(await _campaign(backends, session, settings.campaign))
    lang = language(request)
    start, end = date.fromisoformat(period["starts_on"]), date.fromisoformat(period["ends_on"])
    targets = campaign["targets"].get(session.kind or "", {})
    return render(
        request, "report_form.html", status, period=period, values=values,
        errors={name: rule_message(rule, lang) for name, rule in errors.items()},
        general=general, notices=notices or [], revision=revision, campaign=campaign,
        days=[(d, pick(WEEKDAYS[d.weekday()], lang)) for d in forms.days_of(start, end)],
        targets=targets, platforms=PLATFORMS, languages=LANGUAGE_NAMES,
        social_formats=SOCIAL_FORMATS, foreign_formats=FOREIGN_FORMATS,
        other_kinds=OTHER_KINDS, channels=CHANNELS, day=_day, local=_local,
        attempt=uuid.uuid4().hex, **extra)


@router.post("/don-vi/{code}/bao-cao/{period}", response_class=HTMLResponse)
async def submit_report(request: Request, code: str, period: str) -> Response:
    session = need(request, "unit", unit=code)
    found, values, filled = await posted_report(request, session, period)
    if filled.errors:
        return await _form(request, session, found, values, filled.errors, [], status=422)
    answer = await _state(request)[1].post(
        "reporting", "/v1/reports", session.token, filled.body,
        headers={"idempotency-key": attempt_key(values)})
    if answer.ok:
        return RedirectResponse(f"/don-vi/{quote(code)}/bien-nhan/"
                                f"{quote(answer.body['report_id'])}", 303)
    if answer.status in (401, 403, 409, 413, 422):
        errors, general = problems_on_inputs(answer.problems(), filled.origin,
                                             language(request))
        return await _form(request, session, found, values, errors, general, status=422)
    raise BackendDown(f"intake answered {answer.status}")


async def posted_report(request: Request, session: PortalSession, period: str
                        ) -> tuple[dict[str, Any], dict[str, str], forms.Filled]:
    """A posted report form, its CSRF token checked: the period, the form's values and
    the report they make (with what to fix)."""
    form = await request.form()
    _check_csrf(session, form)
    _, backends, settings = _state(request)
    found = await _period_of(backends, session, settings.campaign, period)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    return found, values, forms.read(values, settings.campaign, period,
                                     date.fromisoformat(found["starts_on"]),
                                     date.fromisoformat(found["ends_on"]))


def attempt_key(values: dict[str, str]) -> str:
    """The idempotency key of a form shown once: a double click sends the report once."""
    attempt = values.get("lan-gui", "")
    if not (attempt.isascii() and attempt.isalnum() and len(attempt) <= 64):
        attempt = uuid.uuid4().hex
    return f"portal-{attempt}"


def problems_on_inputs(problems: list[dict[str, str]], origin: list[str], lang: str,
                       inputs: dict[str, str] | None = None
                       ) -> tuple[dict[str, str], list[str]]:
    """Each problem an API named on the form's input (`inputs`: fields of the form's own
    beyond the report's), its rule; the rest, said above the form."""
    errors: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        path = problem.get("field", "").removeprefix("body.")
        target = (inputs or {}).get(path.split(".", 1)[0]) or forms.input_of(path, origin)
        if target is not None:
            errors.setdefault(target, problem.get("rule", ""))
        else:
            general.append(rule_message(problem.get("rule", ""), lang))
    return errors, general


@router.get("/don-vi/{code}/bien-nhan/{report_id}", response_class=HTMLResponse)
async def receipt(request: Request, code: str, report_id: str) -> Response:
    session = need(request, "unit", "leadership", unit=code)
    _, backends, _ = _state(request)
    report = _must(await backends.get("reporting", f"/v1/reports/{quote(report_id)}",
                                            session.token, unit=code))
    return render(request, "receipt.html", report=report, code=code, local=_local)


# --- the leadership's pages --------------------------------------------------------------


@router.get("/lanh-dao", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    """The campaign over every period: the trend, and the current period's figures."""
    session = need(request, "leadership")
    _, backends, settings = _state(request)
    kind = _kind(request)
    found = _must(await backends.get("aggregator", "/v1/progress/overview",
                                           session.token, campaign=settings.campaign,
                                           kind=kind))
    started = [p for p in found["items"] if p["state"] != "upcoming"]
    shown = next((p for p in found["items"] if p["period"] == found["current"]), None) or (
        started[-1] if started else found["items"][0])
    return render(request, "overview.html", overview=found, shown=shown, kind=kind,
                  chart=charts.trend(started, language(request)), percent=_percent,
                  local=_local, day=_day)


FILES = {"csv": CSV_TYPE, "xlsx": MEDIA_TYPE}  # the tables' files, by extension
TREND = (Column("period", "Kỳ báo cáo", width=12), Column("period_start", "Từ ngày", "date"),
         Column("period_end", "Đến ngày", "date"),
         Column("deadline", "Hạn báo cáo", "datetime", 18),
         Column("state", "Trạng thái (mã)", width=12),
         Column("expected", "Số đơn vị phải báo cáo", "int"),
         Column("reported", "Số đơn vị đã báo cáo", "int"),
         Column("on_time", "Số đơn vị đúng hạn", "int"),
         Column("completeness", "Tỉ lệ đã báo cáo", "ratio"),
         Column("timeliness", "Tỉ lệ đúng hạn", "ratio"),
         Column("missing", "Số đơn vị chưa báo cáo", "int"),
         Column("loudspeaker_units_failing", "Số đơn vị dưới chỉ tiêu phát thanh", "int"))
RATIOS = (("completeness", "tỉ lệ đã báo cáo"), ("timeliness", "tỉ lệ đúng hạn"))
KINDS_TABLE = (Column("unit_kind", "Loại đơn vị (mã)", width=14),
               Column("unit_kind_name", "Loại đơn vị", width=24),
               *TREND[5:8], *TREND[8:10])


def _file(ext: str) -> str:
    """A table's file type from its extension: csv or xlsx; any other is not found."""
    if ext not in FILES:
        raise PageRefused(404, "not_found")
    return ext


def _as_of(what: str) -> str:
    return f"{what} Số liệu lúc {periods.written_moment(datetime.now(periods.LOCAL_ZONE))}."


@router.get("/lanh-dao/tong-quan.{ext}")
async def overview_csv(request: Request, ext: str) -> Response:
    """The overview's table of every period, as CSV or XLSX."""
    session, ext = need(request, "leadership"), _file(ext)
    _, backends, settings = _state(request)
    found = _must(await backends.get("aggregator", "/v1/progress/overview",
                                           session.token, campaign=settings.campaign,
                                           kind=_kind(request)))
    kinds = sorted({k for p in found["items"] for k in p["by_unit_kind"]})
    columns = (*TREND, *(Column(f"{k}_{m}", f"{pick(KINDS[k], 'vi') if k in KINDS else k}: "
                                f"{name}", "ratio") for k in kinds for m, name in RATIOS))
    rows = ([p["period"], date.fromisoformat(p["period_start"]),
             date.fromisoformat(p["period_end"]), datetime.fromisoformat(p["deadline"]),
             p["state"], p["city"]["expected"], p["city"]["reported"], p["city"]["on_time"],
             p["city"]["completeness"], p["city"]["timeliness"], p["missing"],
             p["loudspeaker"]["units_failing"],
             *(p["by_unit_kind"].get(k, {}).get(m) for k in kinds for m, _ in RATIOS)]
            for p in found["items"])
    return table_download(ext, f"tong-quan-{settings.campaign}", Sheet(
        "Tổng quan theo kỳ", columns, rows, heading=_as_of(
            f"Tổng quan đợt {settings.campaign} theo kỳ báo cáo{_narrowed(request)}.")),
        header=_header(request))


def _narrowed(request: Request) -> str:
    kind = _kind(request)
    return f", loại đơn vị: {pick(KINDS[kind], 'vi')}" if kind else ""


def _header(request: Request) -> Any:
    return "code" if request.query_params.get("header") == "code" else "vi"


def _kind(request: Request) -> str | None:
    kind = request.query_params.get("kind") or None
    return kind if kind in KINDS else None


@router.get("/lanh-dao/ky/{period}/{table}.{ext}")
async def period_csv(request: Request, period: str, table: str, ext: str) -> Response:
    """The period's tables for Excel, as CSV or XLSX, as the aggregator makes them."""
    session, ext = need(request, "leadership"), _file(ext)
    _, backends, settings = _state(request)
    if table == "loai-don-vi":
        return await _kinds_csv(request, session, settings.campaign, period, ext)
    path = {"don-vi": "/v1/progress", "chua-nop": "/v1/progress/missing"}.get(table)
    if path is None:
        raise PageRefused(404, "not_found")
    download = await backends.download(session.token, path, campaign=settings.campaign,
                                       period=period, kind=_kind(request), format=ext,
                                       header=_header(request))
    if download.status != 200:
        await download.close()
        raise PageRefused(404 if download.status in (404, 422) else 503,
                          "not_found" if download.status in (404, 422) else "services_down")
    return StreamingResponse(download.chunks(), media_type=FILES[ext],
                             headers={"content-disposition": f'attachment; filename='
                                      f'"{table}-{settings.campaign}-{period}.{ext}"'})


async def _kinds_csv(request: Request, session: PortalSession, campaign: str, period: str,
                     ext: str) -> Response:
    """The period page's table per unit kind, city-wide last."""
    summary = _must(await _state(request)[1].get(
        "aggregator", "/v1/progress", session.token, campaign=campaign, period=period,
        kind=_kind(request)))
    lines = [*summary["by_unit_kind"].items(), ("city", summary["city"])]
    rows = ((name, pick(KINDS[name], "vi") if name in KINDS else "Toàn thành phố",
             r["expected"], r["reported"], r["on_time"], r["completeness"], r["timeliness"])
            for name, r in lines)
    return table_download(ext, f"loai-don-vi-{campaign}-{period}", Sheet(
        "Theo loại đơn vị", KINDS_TABLE, rows, heading=_as_of(
            f"Tiến độ theo loại đơn vị: đợt {campaign}, kỳ {period} "
            f"({_day(summary['period_start'])} – {_day(summary['period_end'])})"
            f"{_narrowed(request)}.")), header=_header(request))


@router.get("/lanh-dao/ky/{period}", response_class=HTMLResponse)
async def period_page(request: Request, period: str) -> Response:
    session = need(request, "leadership")
    _, backends, settings = _state(request)
    kind = _kind(request)
    chosen = request.query_params.get("ky")
    if chosen and chosen != period:  # the period list, sent without JavaScript
        kind_part = f"?kind={quote(kind)}" if kind else ""
        return RedirectResponse(f"/lanh-dao/ky/{quote(chosen)}{kind_part}", 303)
    cursor = request.query_params.get("cursor") or None
    asked = {"campaign": settings.campaign, "period": period, "kind": kind}
    summary, table, calendar, missing = [_must(answer) for answer in await asyncio.gather(
        backends.get("aggregator", "/v1/progress", session.token, **asked),
        backends.get("aggregator", "/v1/progress/units", session.token, **asked,
                     cursor=cursor, limit=TABLE_ROWS),
        _calendar(backends, session, settings.campaign),
        backends.get("aggregator", "/v1/progress/missing", session.token, **asked,
                     limit=MISSING_SHOWN))]
    contacts = {}
    if missing["items"]:
        units = _must(await backends.get(
            "registry", "/v1/units", session.token, limit=MISSING_SHOWN,
            code=[u["code"] for u in missing["items"]]))
        contacts = {u["code"]: u["contacts"] for u in units["items"]}
    lang = language(request)
    kind_names = {key: pick(pair, lang) for key, pair in KINDS.items()}
    return render(request, "period.html", summary=summary, table=table, kind=kind,
                  calendar=calendar["items"], percent=_percent, local=_local, day=_day,
                  campaign=settings.campaign, missing=missing, contacts=contacts,
                  platform_names=PLATFORMS, language_names=LANGUAGE_NAMES,
                  kind_names=kind_names, rows=_table_rows(table["items"], kind_names, lang),
                  missing_rows=[_Missing(u["code"], u["name"], u["kind"])
                                for u in missing["items"]])


class _Row(NamedTuple):
    """A period table line, its cells as shown (the template reads attributes only: a
    5,000-unit page renders 200 of these; dict look-ups in Jinja cost twice as much)."""

    state: str
    code: str
    name: str
    kind: str
    reported: str
    on_time: str
    total: str
    least: str
    platforms: str
    languages: str


class _Missing(NamedTuple):
    code: str
    name: str
    kind: str


def _table_rows(items: list[dict[str, Any]], kind_names: dict[str, str], lang: str
                ) -> list[_Row]:
    yes, no = text("yes", lang), text("no", lang)

    def shown(value: object) -> str:
        return "–" if value is None else str(value)

    return [_Row(
        "reported" if r["reported"] else "missing", r["code"], r["name"],
        kind_names.get(r["kind"], r["kind"]), yes if r["reported"] else no,
        (yes if r["on_time"] else no) if r["reported"] else "–",
        shown(r["loudspeaker_total"]), shown(r.get("peak_day_least")),
        ", ".join(PLATFORMS.get(p, p) for p in r.get("platforms", [])),
        ", ".join(pick(LANGUAGE_NAMES[c], lang) if c in LANGUAGE_NAMES else c
                  for c in r.get("languages", []))) for r in items]


@router.get("/su-kien")
async def events(request: Request) -> Response:
    """The aggregator's live progress, through the session (the page holds no token)."""
    session = need(request, "leadership")
    _, backends, settings = _state(request)
    return StreamingResponse(backends.stream(session.token, settings.campaign),
                             media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


@router.get("/tien-do")
async def progress_link(request: Request) -> Response:
    """The link the notifier's messages give the leadership."""
    return RedirectResponse("/lanh-dao", 303)


# --- the Department's administrator ------------------------------------------------------

MAX_IMPORT_BYTES = 16 * 1024 * 1024  # the registry takes more; a page upload stops here


@router.get("/quan-tri")
async def admin_home(request: Request) -> Response:
    need(request, "admin")
    return RedirectResponse("/quan-tri/don-vi", 303)


@router.get("/quan-tri/don-vi", response_class=HTMLResponse)
async def admin_units(request: Request) -> Response:
    session = need(request, "admin")
    return await _units_page(request, session, {}, {}, None)


async def _units_page(request: Request, session: PortalSession, values: dict[str, str],
                      errors: dict[str, tuple[str, str]], notice: str | None,
                      status: int = 200,
                      imported: dict[str, Any] | None = None) -> Response:
    _, backends, _ = _state(request)
    kind = _kind(request)
    offset = request.query_params.get("offset", "0")
    units = _must(await backends.get("registry", "/v1/units", session.token, kind=kind,
                                           limit=100, offset=offset if offset.isdigit() else 0))
    lang = language(request)
    return render(request, "admin_units.html", status, units=units, kind=kind,
                  offset=int(offset) if offset.isdigit() else 0, values=values,
                  errors=_messages(errors, lang), notice=notice or (
                      "saved" if request.query_params.get("luu") else None),
                  imported=imported, day=_day, today=periods.today())


UNIT_INPUTS = {"name": "name", "code": "code", "kind": "kind", "active_from": "active_from",
               "contacts.email": "email", "contacts.phone": "phone"}


@router.post("/quan-tri/don-vi", response_class=HTMLResponse)
async def admin_create_unit(request: Request) -> Response:
    session = need(request, "admin")
    form = await request.form()
    _check_csrf(session, form)
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    body: dict[str, Any] = {"name": values.get("name", ""), "kind": values.get("kind", ""),
                            "contacts": {k: values[k] for k in ("email", "phone")
                                         if values.get(k)}}
    for key in ("code", "active_from"):
        if values.get(key):
            body[key] = values[key]
    answer = await _state(request)[1].post("registry", "/v1/units", session.token, body)
    if answer.ok:
        return RedirectResponse("/quan-tri/don-vi?luu=1", 303)
    return await _units_page(request, session, values, _inputs(answer, UNIT_INPUTS), None,
                             status=422 if answer.status in (409, 422) else answer.status)


def _inputs(answer: Answer, inputs: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The inputs a registry refusal names (`body.contacts.email` -> email; `unit_codes.3`
    -> unit_codes), each with its rule and the API's own words ("_form": the rest)."""
    found: dict[str, tuple[str, str]] = {}
    for problem in answer.problems():
        field = problem.get("field", "").removeprefix("body.")
        key = inputs.get(field) or inputs.get(field.split(".")[0]) or "_form"
        found.setdefault(key, (problem.get("rule", ""), problem.get("message", "")))
    return found


def _messages(errors: dict[str, tuple[str, str]], lang: str) -> dict[str, str]:
    """What a person reads beside each input: the rule in their language, then the API's
    words (which unit code, which value)."""
    return {name: f"{rule_message(rule, lang, name)} ({detail})" if detail else
            rule_message(rule, lang, name) for name, (rule, detail) in errors.items()}


@router.post("/quan-tri/don-vi/{code}/ngung", response_class=HTMLResponse)
async def admin_retire_unit(request: Request, code: str) -> Response:
    session = need(request, "admin")
    form = await request.form()
    _check_csrf(session, form)
    answer = await _state(request)[1].post("registry", f"/v1/units/{quote(code)}/retire",
                                           session.token,
                                           {"active_until": str(form.get("active_until"))})
    if answer.ok:
        return RedirectResponse("/quan-tri/don-vi?luu=1", 303)
    return await _units_page(request, session, {}, _inputs(answer, {}), None, status=422)


@router.post("/quan-tri/nhap", response_class=HTMLResponse)
async def admin_import(request: Request) -> Response:
    session = need(request, "admin")
    form = await request.form()
    _check_csrf(session, form)
    upload = form.get("file")
    content = await upload.read(MAX_IMPORT_BYTES + 1) \
        if upload is not None and not isinstance(upload, str) else b""
    if len(content) > MAX_IMPORT_BYTES:
        return await _units_page(request, session, {}, {"_form": ("file_too_large", "")},
                                 None, status=413)
    answer = await _state(request)[1].send("registry", "/v1/units/import", session.token,
                                           content, "text/csv")
    if answer.status == 202:  # a large file: the registry imports it as a job
        return await _units_page(request, session, {}, {}, "import_started", status=202)
    if answer.status in (200, 422) and isinstance(answer.body, dict) and \
            "imported" in answer.body:
        return await _units_page(request, session, {}, {}, None, imported=answer.body,
                                 status=answer.status)
    return await _units_page(request, session, {}, _inputs(answer, {}), None, status=422)


@router.get("/quan-tri/ma-truy-cap", response_class=HTMLResponse)
async def admin_credentials(request: Request) -> Response:
    session = need(request, "admin")
    return await _credentials_page(request, session, None, {})


async def _credentials_page(request: Request, session: PortalSession,
                            issued: dict[str, Any] | None,
                            errors: dict[str, tuple[str, str]], status: int = 200) -> Response:
    _, backends, _ = _state(request)
    found = _must(await backends.get("registry", "/v1/credentials", session.token))
    lang = language(request)
    return render(request, "admin_credentials.html", status, credentials=found["items"],
                  issued=issued, local=_local, errors=_messages(errors, lang))


@router.post("/quan-tri/ma-truy-cap", response_class=HTMLResponse)
async def admin_issue(request: Request) -> Response:
    session = need(request, "admin")
    form = await request.form()
    _check_csrf(session, form)
    scope = str(form.get("scope") or "unit")
    body = {"scope": scope, "label": str(form.get("label") or "").strip()}
    if scope == "unit":
        body["unit_code"] = str(form.get("unit_code") or "").strip()
    answer = await _state(request)[1].post("registry", "/v1/credentials", session.token, body)
    if answer.ok:  # the token is shown on this answer only, never stored here
        return await _credentials_page(request, session, answer.body, {}, status=201)
    return await _credentials_page(request, session, None, _inputs(answer, {
        "unit_code": "unit_code", "label": "label", "scope": "scope"}), status=422)


@router.post("/quan-tri/ma-truy-cap/nhieu")
async def admin_issue_many(request: Request) -> Response:
    session = need(request, "admin")
    form = await request.form()
    _check_csrf(session, form)
    codes = [c.strip() for c in str(form.get("unit_codes") or "").split() if c.strip()]
    ext = "xlsx" if form.get("file") == "xlsx" else "csv"  # the button pressed
    download = await _state(request)[1].post(
        "registry", "/v1/credentials/batch", session.token,
        {"unit_codes": codes, "label": str(form.get("label") or "").strip(),
         "replace": form.get("replace") == "on"}, headers={"accept": FILES[ext]},
        raw=True)
    if download.status == 201:
        return Response(download.body, media_type=FILES[ext], headers={
            "content-disposition": f'attachment; filename="ma-truy-cap.{ext}"'})
    return await _credentials_page(request, session, None, _inputs(download, {
        "unit_codes": "unit_codes", "label": "many_label"}), status=422)


@router.post("/quan-tri/ma-truy-cap/{credential_id}/thu-hoi")
async def admin_revoke(request: Request, credential_id: str) -> Response:
    session = need(request, "admin")
    form = await request.form()
    _check_csrf(session, form)
    _must(await _state(request)[1].post(
        "registry", f"/v1/credentials/{quote(credential_id)}/revoke", session.token, {}))
    return RedirectResponse("/quan-tri/ma-truy-cap", 303)
