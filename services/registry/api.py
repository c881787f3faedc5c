"""The registry's HTTP routes: thin, each one a service call. They raise domain refusals
(services.refusals); services.web.errors gives each its status."""

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services import periods, webhooks
from services.callers import Caller
from services.events import UnitKind
from services.refusals import Forbidden, Invalid, Unavailable
from services.registry import audit, importing, service, store
from services.registry.audit import Actor
from services.registry.models import Unit
from services.registry.schemas import (
    AuditEntity,
    AuditEntryPublic,
    CallerPublic,
    CampaignBody,
    CampaignCreate,
    CampaignPeriodsPublic,
    CampaignPublic,
    CredentialBatchCreate,
    CredentialCreate,
    CredentialIssued,
    CredentialPublic,
    CredentialsIssued,
    ImportReport,
    UnitCreate,
    UnitImportPublic,
    UnitImportState,
    UnitPublic,
    UnitRetire,
    UnitUpdate,
    WebhookSecret,
)
from services.web import downloads
from services.web.auth import AdminDep, CallerDep, ReaderDep
from services.web.db import SessionDep
from services.web.downloads import HeaderQuery, table_download
from services.web.errors import ErrorBody, documented
from services.web.schemas import Instant, OffsetQuery, Page
from services.web.spreadsheets import MEDIA_TYPE, Column, Sheet

# An import streams to disk and runs in chunks (see importing), so memory does not bound the
# file; the limit is 64 MiB, about half a million rows, a few minutes of work.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
DIRECT_BYTES = 1024 * 1024  # files up to this (some 8,000 rows) are answered when imported
router = APIRouter(prefix="/v1")


async def _admin_actor(caller: AdminDep) -> Actor:
    """The administrator, as the audit trail names who made a change."""
    return audit.actor_of(caller)


AdminActorDep = Annotated[Actor, Depends(_admin_actor)]


@router.get("/units", tags=["units"], responses=documented(401, 403, 422))
def list_units(session: SessionDep, _: ReaderDep, kind: UnitKind | None = None,
               active: bool | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: OffsetQuery = 0,
               code: Annotated[list[str] | None, Query(max_length=200, description=(
                   "Only these units (repeat the parameter; at most 200)."))] = None
               ) -> Page[UnitPublic]:
    """List units, optionally by kind, by whether they are active today, or by code."""
    items, total = store.list_units(session, kind=kind, active=active, active_on=periods.today(),
                                    limit=limit, offset=offset, codes=code)
    return Page(items=[service.unit_public(u) for u in items], total=total)


@router.post("/units", status_code=201, tags=["units"],
             responses=documented(401, 403, 409, 422))
def create_unit(data: UnitCreate, session: SessionDep, by: AdminActorDep) -> UnitPublic:
    """Register a unit."""
    return service.unit_public(service.create_unit(session, data, by=by))


@router.post("/units/import", tags=["units"], response_model=ImportReport,
             responses=documented(401, 403, 413) | {
                 202: {"model": UnitImportPublic, "description": "A file over "
                       f"{DIRECT_BYTES // 1024 // 1024} MiB, or any sent with `Prefer: "
                       "respond-async`: the import runs as a job, followed at `Location`"},
                 422: {"model": ImportReport | ErrorBody, "description": "Bad rows, and "
                       "nothing imported (a report per row), or a bad query (an error)"}},
             openapi_extra={"requestBody": {"content": {"text/csv": {}}}})
async def import_units(request: Request, background: BackgroundTasks, by: AdminActorDep,
                       good_rows: bool = False, active_from: date | None = None,
                       prefer: Annotated[str | None, Header(
                           description="`respond-async`: run as a job (202) whatever the "
                           "file's size")] = None) -> JSONResponse:
    """Import units from CSV; a file with bad rows imports nothing unless good_rows=true.
    A small file is answered when imported; a large one becomes a job (202)."""
    upload = await importing.receive(request.stream(), limit=MAX_IMPORT_BYTES,
                                     declared=request.headers.get("content-length"))
    engine, committed = request.app.state.engine, _relay_waker(request)
    stopping = asyncio.get_running_loop().is_closed  # the service has stopped serving
    job = await run_in_threadpool(importing.start, engine, upload, good_rows=good_rows,
                                  active_from=active_from or periods.today())
    location, asked = f"/v1/units/imports/{job.id}", _asks_async(prefer)
    if asked or upload.size > DIRECT_BYTES:
        background.add_task(importing.run_detached, engine, job.id, upload, by=by,
                            committed=committed, stopping=stopping)
        applied = {"preference-applied": "respond-async"} if asked else {}
        return JSONResponse(importing.public(job).model_dump(mode="json"), status_code=202,
                            headers={"location": location} | applied)
    job = await run_in_threadpool(importing.run, engine, job.id, upload, by=by,
                                  committed=committed, stopping=stopping)
    return JSONResponse(importing.report(job).model_dump(mode="json"),
                        status_code=200 if job.state == UnitImportState.done else 422,
                        headers={"content-location": location})


@router.get("/units/imports/{import_id}", tags=["units"],
            responses=documented(401, 403, 404, 422))
def get_unit_import(import_id: Annotated[str, PathParam(max_length=40)], session: SessionDep,
                    _: AdminDep) -> UnitImportPublic:
    """An import's progress, and its report once it has ended."""
    return importing.get_or_raise(session, import_id)


def _asks_async(prefer: str | None) -> bool:
    """Whether a Prefer header (RFC 7240) asks for `respond-async`."""
    return "respond-async" in (p.split(";")[0].strip().lower() for p in (prefer or "").split(","))


def _relay_waker(request: Request) -> Callable[[], None]:
    """Wakes the outbox relay from the import's thread (the relay lives on the loop)."""
    relay, loop = getattr(request.app.state, "relay", None), asyncio.get_running_loop()

    def wake() -> None:
        if relay is not None and not loop.is_closed():
            loop.call_soon_threadsafe(relay.wake)

    return wake


@router.get("/units/{code}", tags=["units"], responses=documented(401, 403, 404, 422))
def get_unit(code: str, session: SessionDep, caller: CallerDep) -> UnitPublic:
    """One unit; a unit credential may read only its own."""
    if caller.scope == "unit" and caller.unit_code != code:
        raise Forbidden("forbidden", "a unit credential reads only its own unit")
    return service.unit_public(service.get_unit_or_raise(session, code))


@router.patch("/units/{code}", tags=["units"],
              responses=documented(401, 403, 404, 409, 422))
def update_unit(code: str, data: UnitUpdate, session: SessionDep,
                by: AdminActorDep) -> UnitPublic:
    """Change a unit's fields."""
    return service.unit_public(service.update_unit(session, code, data, by=by))


@router.post("/units/{code}/retire", tags=["units"],
             responses=documented(401, 403, 404, 409, 422))
def retire_unit(code: str, data: UnitRetire, session: SessionDep,
                by: AdminActorDep) -> UnitPublic:
    """Set the last day a unit is expected to report."""
    return service.unit_public(service.retire_unit(session, code, data.active_until, by=by))


@router.get("/units/{code}/webhook-secret", tags=["units"],
            responses=documented(401, 403, 404, 422, 503))
def get_webhook_secret(code: str, session: SessionDep, caller: CallerDep,
                       request: Request, response: Response) -> WebhookSecret:
    """The unit's webhook secret, for its administrator or the unit itself: the notifier
    signs every delivery to the unit's `webhook_url` with it."""
    _own_unit(caller, code)
    unit = service.get_unit_or_raise(session, code)
    response.headers["cache-control"] = "no-store"
    return _secret_of(request, unit)


@router.post("/units/{code}/webhook-secret/rotate", tags=["units"],
             responses=documented(401, 403, 404, 422, 503))
def rotate_webhook_secret(code: str, session: SessionDep, caller: CallerDep,
                          request: Request, response: Response) -> WebhookSecret:
    """A new webhook secret for the unit (a leaked one, a new receiver); the old one stops
    verifying once the notifier has read the change."""
    _own_unit(caller, code)
    _signing_key(request)  # refuse before changing anything
    unit = service.rotate_webhook_secret(session, code, by=service.actor_of(session, caller))
    response.headers["cache-control"] = "no-store"
    return _secret_of(request, unit)


def _own_unit(caller: Caller, code: str) -> None:
    if caller.scope == "admin" or (caller.scope == "unit" and caller.unit_code == code):
        return
    raise Forbidden("forbidden", "only an administrator or the unit itself sees its "
                    "webhook secret")


def _signing_key(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "webhook_signing_key", None)
    if key is None:
        raise Unavailable("webhooks_not_configured", "this registry has no webhook signing "
                          "key (REGISTRY_WEBHOOK_SIGNING_KEY): no secret to show")
    return key


def _secret_of(request: Request, unit: Unit) -> WebhookSecret:
    secret = webhooks.unit_secret(_signing_key(request), unit.code,
                                  unit.webhook_secret_generation)
    return WebhookSecret(unit=unit.code, secret=secret,
                         generation=unit.webhook_secret_generation)


@router.delete("/units/{code}", status_code=204, tags=["units"],
               responses=documented(401, 403, 404, 422))
def delete_unit(code: str, session: SessionDep, by: AdminActorDep) -> Response:
    """Delete a unit entered by mistake (publishes a tombstone)."""
    service.delete_unit(session, code, by=by)
    return Response(status_code=204)


@router.get("/campaigns", tags=["campaigns"], responses=documented(401))
def list_campaigns(session: SessionDep, _: CallerDep) -> Page[CampaignPublic]:
    """Every campaign."""
    items = [service.campaign_public(c) for c in store.all_campaigns(session)]
    return Page(items=items, total=len(items))


@router.post("/campaigns", status_code=201, tags=["campaigns"],
             responses=documented(401, 403, 409, 422))
def create_campaign(data: CampaignCreate, session: SessionDep,
                    by: AdminActorDep) -> CampaignPublic:
    """Register a campaign."""
    return service.campaign_public(service.create_campaign(session, data, by=by))


@router.get("/campaigns/{code}", tags=["campaigns"], responses=documented(401, 404, 422))
def get_campaign(code: str, session: SessionDep, _: CallerDep) -> CampaignPublic:
    """One campaign."""
    return service.campaign_public(service.get_campaign_or_raise(session, code))


@router.get("/campaigns/{code}/periods", tags=["campaigns"], responses=documented(401, 404, 422))
def campaign_periods(code: str, session: SessionDep, _: CallerDep) -> CampaignPeriodsPublic:
    """The campaign's reporting periods in order, each with its days and deadline, which
    one today falls in and which are due."""
    return service.campaign_periods(service.get_campaign_or_raise(session, code),
                                    datetime.now(UTC))


@router.put("/campaigns/{code}", tags=["campaigns"],
            responses=documented(401, 403, 404, 409, 422))
def replace_campaign(code: str, data: CampaignBody, session: SessionDep,
                     by: AdminActorDep) -> CampaignPublic:
    """Replace a campaign's calendar and targets."""
    return service.campaign_public(service.replace_campaign(session, code, data, by=by))


@router.post("/credentials", status_code=201, tags=["credentials"],
             responses=documented(401, 403, 404, 409, 422))
def issue_credential(data: CredentialCreate, session: SessionDep, by: AdminActorDep,
                     response: Response) -> CredentialIssued:
    """Issue a unit or leadership token; the token is shown only in this response."""
    response.headers["cache-control"] = "no-store"
    return service.issue_credential(session, data, by=by)


TOKEN_COLUMNS = (Column("code", "Mã đơn vị", width=16), Column("name", "Tên đơn vị", width=36),
                 Column("credential_id", "Số hiệu mã truy cập", width=28),
                 Column("token", "Mã truy cập (chỉ hiện một lần)", width=60))


@router.post("/credentials/batch", status_code=201, tags=["credentials"],
             response_model=CredentialsIssued,
             responses=documented(401, 403, 409, 422) | {201: {
                 "content": {"text/csv": {}, MEDIA_TYPE: {}}, "description": "The tokens, "
                 "shown only in this answer, to hand out: JSON; with `Accept: text/csv` a CSV "
                 "file (UTF-8 with a byte-order mark, a row of Vietnamese headers then the "
                 "codes `code,name,credential_id,token`; `header=code`: the codes alone); "
                 f"with `Accept: {MEDIA_TYPE}` the same table as XLSX."}})
def issue_credentials(data: CredentialBatchCreate, session: SessionDep, by: AdminActorDep,
                      request: Request, response: Response,
                      header: HeaderQuery = "vi") -> Any:
    """Issue a unit token for each unit named, in one transaction (none if a code is
    unknown); `replace` revokes their earlier unit tokens in it."""
    response.headers["cache-control"] = "no-store"
    accept = request.headers.get("accept", "")
    form = "xlsx" if MEDIA_TYPE in accept else "csv" if "text/csv" in accept else None

    def shown(issued: CredentialsIssued) -> Any:
        """The answer, made whole before the tokens commit: if it cannot be made, none is
        issued (and none replaced), rather than tokens issued that no one ever sees."""
        if form is None:
            return issued
        names = {u.code: u.name for u in store.units_by_code(session, data.unit_codes).values()}
        answer = table_download(form, "credentials", Sheet(
            "Mã truy cập", TOKEN_COLUMNS, [(c.unit_code, names.get(c.unit_code or ""), c.id,
                                            c.token) for c in issued.items],
            heading=f"Mã truy cập cấp cho {len(issued.items)} đơn vị ({data.label}), lúc "
            f"{periods.written_moment(datetime.now(UTC))}. Mỗi mã chỉ hiện một lần: giao cho "
            "đúng đơn vị."), response, header=header, whole=True)
        answer.status_code = 201
        return answer

    return service.issue_unit_credentials(session, data, by=by, shown=shown)


@router.get("/credentials", tags=["credentials"], responses=documented(401, 403))
def list_credentials(session: SessionDep, _: AdminDep) -> Page[CredentialPublic]:
    """Every credential, without tokens."""
    items = [service.credential_public(c) for c in store.all_credentials(session)]
    return Page(items=items, total=len(items))


@router.get("/credentials/me", tags=["credentials"], responses=documented(401))
def who_am_i(session: SessionDep, caller: CallerDep, response: Response) -> CallerPublic:
    """The caller of the token sent: its scope, unit and label."""
    response.headers["cache-control"] = "no-store"
    return service.caller_public(session, caller)


@router.post("/credentials/{credential_id}/revoke", tags=["credentials"],
             responses=documented(401, 403, 404, 422))
def revoke_credential(credential_id: str, session: SessionDep,
                      by: AdminActorDep) -> CredentialPublic:
    """Revoke a credential."""
    return service.credential_public(service.revoke_credential(session, credential_id, by=by))


@router.post("/admin/republish", tags=["operations"], responses=documented(401, 403, 409))
def republish(session: SessionDep, _: AdminDep) -> dict[str, int]:
    """Publish every snapshot again (after the broker lost its topics)."""
    return service.republish_all(session)


@router.get("/audit", tags=["audit"], response_model=Page[AuditEntryPublic],
            responses=downloads.documented("with `format=csv` or `format=xlsx` every entry "
                                           "the filters keep (not a page)")
            | documented(401, 403, 422))
def list_audit(session: SessionDep, _: AdminDep, response: Response,
               entity: AuditEntity | None = None,
               entity_id: Annotated[str | None, Query(max_length=200, description=(
                   "A unit's or campaign's code, a credential's id, or for a report "
                   "`campaign/period/unit`."))] = None,
               actor: Annotated[str | None, Query(max_length=64, description=(
                   "`admin`, `system` or a credential id."))] = None,
               since: Annotated[Instant | None, Query(alias="from", description=(
                   "Entries at or after this instant (ISO 8601 with its offset, e.g. "
                   "`2026-02-09T00:00:00+07:00` or `...Z`)."))] = None,
               until: Annotated[Instant | None, Query(alias="to", description=(
                   "Entries before this instant (ISO 8601 with its offset)."))] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100, offset: OffsetQuery = 0,
               format: Annotated[Literal["json", "csv", "xlsx"], Query(
                   description="json; csv or xlsx: every entry kept, for Excel.")] = "json",
               header: HeaderQuery = "vi") -> Any:
    """The audit trail, newest first: every change in the registry (units, campaigns,
    credentials) and every report entered on a unit's behalf, with who, when and what
    changed; filtered by entity, entity id, actor and time."""
    if since is not None and until is not None and until <= since:
        raise Invalid.on("query.to", "after_from", "`to` must be later than `from`")
    filters = audit.Filters(entity=entity, entity_id=entity_id, actor=actor, since=since,
                            until=until)
    if format != "json":
        return table_download(format, "nhat-ky-thay-doi",
                              audit.sheet(audit.every(session, filters)), response, header=header)
    items, total = audit.listing(session, filters, limit=limit, offset=offset)
    return Page(items=[audit.public(entry) for entry in items], total=total)
