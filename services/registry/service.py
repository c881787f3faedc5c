"""The registry's decisions. Each public function is one transaction: decide, then commit.

Every change adds the entity's full snapshot to the outbox in the same transaction, so the
compacted topics always catch up with the database, and its entry to the audit trail
(services.registry.audit), made by `by`, so the trail holds every change that committed.
"""

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services import periods
from services.bus.outbox import enqueue
from services.callers import Caller, new_token
from services.events import (
    CAMPAIGNS,
    CREDENTIALS,
    UNITS,
    CampaignSnapshot,
    CredentialScope,
    CredentialSnapshot,
    UnitSnapshot,
)
from services.refusals import (
    MORE_PROBLEMS,
    Conflict,
    FieldProblem,
    Invalid,
    NotFound,
    capped,
    left_off,
)
from services.registry import audit, store
from services.registry.audit import Actor
from services.registry.models import Campaign, Credential, Unit
from services.registry.names import name_key, slug, tone_slug
from services.registry.schemas import (
    CallerPublic,
    CampaignBody,
    CampaignCreate,
    CampaignPeriodsPublic,
    CampaignPublic,
    Channels,
    Contacts,
    CredentialBatchCreate,
    CredentialCreate,
    CredentialIssued,
    CredentialPublic,
    CredentialsIssued,
    PeriodPublic,
    UnitCreate,
    UnitPublic,
    UnitUpdate,
)

log = structlog.get_logger()
T = TypeVar("T")
CONTACT_FIELDS = tuple(Contacts.model_fields)
CHANNEL_FIELDS = tuple(Channels.model_fields)


def not_found(what: str, code: str) -> NotFound:
    """The refusal for an entity that does not exist."""
    return NotFound(f"{what}_not_found", f"no {what} with code {code!r}")


# --- units -------------------------------------------------------------------------------


def unit_public(unit: Unit) -> UnitPublic:
    """The API view of a unit."""
    return UnitPublic(
        **unit.model_dump(include={"code", "name", "kind", "admin_code", "parent", "active_from",
                                   "active_until", "revision", "created_at", "updated_at"}),
        contacts=Contacts(**unit.model_dump(include=set(CONTACT_FIELDS))),
        channels=Channels(**unit.model_dump(include=set(CHANNEL_FIELDS))),
    )


def unit_snapshot(unit: Unit) -> UnitSnapshot:
    """The event view of a unit."""
    public = unit_public(unit)
    return UnitSnapshot(**public.model_dump(exclude={"created_at"}),
                        webhook_secret_generation=unit.webhook_secret_generation)


def get_unit_or_raise(session: Session, code: str, *, for_update: bool = False) -> Unit:
    """The unit with this code, or NotFound."""
    unit = store.get_unit(session, code, for_update=for_update)
    if unit is None:
        raise not_found("unit", code)
    return unit


def create_unit(session: Session, data: UnitCreate, *, by: Actor) -> Unit:
    """Register a new unit and publish its snapshot."""
    code = data.code or derive_code(session, data.name, taken=set())
    if store.get_unit(session, code) is not None:
        raise Conflict("code_taken", f"a unit with code {code!r} exists",
                       [FieldProblem("code", "unique", "code already used")])
    fields = unit_fields(data)
    fields["active_from"] = fields["active_from"] or periods.today()
    unit = Unit(code=code, **fields)
    check_unique_name(session, unit)
    stage_unit(session, unit, new=True)
    audit.record(session, by, "unit", code, "created", unit_values(unit))
    commit(session)
    log.info("unit.created", unit=code, kind=unit.kind)
    return unit


def update_unit(session: Session, code: str, data: UnitUpdate, *, by: Actor,
                action: str = "updated") -> Unit:
    """Change some of a unit's fields; publish (and record) only if something changed."""
    unit = get_unit_or_raise(session, code, for_update=True)
    changes = unit_fields(data, partial=True)
    if "contacts" in data.model_fields_set and data.contacts is None:
        changes |= dict.fromkeys(CONTACT_FIELDS)
    if "channels" in data.model_fields_set and data.channels is None:
        changes |= dict.fromkeys(CHANNEL_FIELDS)
    if before := apply_changes(unit, changes):
        check_span(unit)
        check_unique_name(session, unit)
        stage_unit(session, unit, new=False)
        audit.record(session, by, "unit", code, action, changed(before, changes))
        commit(session)
        log.info("unit.updated", unit=code, fields=sorted(changes))
    return unit


def retire_unit(session: Session, code: str, active_until: date, *, by: Actor) -> Unit:
    """Set the last day a unit is expected to report."""
    return update_unit(session, code, UnitUpdate(active_until=active_until), by=by,
                       action="retired")


def rotate_webhook_secret(session: Session, code: str, *, by: Actor) -> Unit:
    """A new webhook secret for the unit: the old one stops verifying once the notifier has
    read the unit's new snapshot."""
    unit = get_unit_or_raise(session, code, for_update=True)
    unit.webhook_secret_generation += 1
    stage_unit(session, unit, new=False)
    generation = unit.webhook_secret_generation
    audit.record(session, by, "unit", code, "secret_rotated", {"webhook_secret_generation": {
        "before": generation - 1, "after": generation}})
    commit(session)
    log.info("unit.webhook_secret_rotated", unit=code,
             generation=unit.webhook_secret_generation)
    return unit


def delete_unit(session: Session, code: str, *, by: Actor) -> None:
    """Remove a unit entered by mistake: tombstone its snapshot, revoke its credentials."""
    unit = get_unit_or_raise(session, code)
    for credential in store.credentials_of_unit(session, code):
        _revoke(session, credential, by=by, note=f"unit {code} deleted")
    audit.record(session, by, "unit", code, "deleted", unit_values(unit))
    session.delete(unit)
    enqueue(session, UNITS, code, None)
    commit(session)
    log.info("unit.deleted", unit=code)


def derive_code(session: Session, name: str, *, taken: set[str]) -> str:
    """A code from the name; the tone-keeping form when the plain one is taken."""
    for candidate in (slug(name), tone_slug(name)):
        if candidate and candidate not in taken and store.get_unit(session, candidate) is None:
            return candidate
    raise Conflict("code_taken", "no free code can be made from this name; give one",
                   [FieldProblem("code", "unique", "give a code")])


def unit_fields(data: UnitCreate | UnitUpdate, *, partial: bool = False) -> dict[str, Any]:
    """A body's fields as the Unit table's columns (only those sent, when partial)."""
    given = data.model_dump(exclude_unset=partial, exclude={"code", "contacts", "channels"})
    if partial:
        given = {k: v for k, v in given.items() if v is not None or k == "active_until"}
    for group in ("contacts", "channels"):
        value = getattr(data, group)
        if value is not None:
            given |= value.model_dump(exclude_unset=partial)
    if "name" in given:
        given["name_key"] = name_key(given["name"])
    return given


def apply_changes(unit: Unit, changes: dict[str, Any]) -> dict[str, Any]:
    """Set the changed fields; the values they had (empty when nothing changed)."""
    before = {field: getattr(unit, field) for field, value in changes.items()
              if getattr(unit, field) != value}
    for field in before:
        setattr(unit, field, changes[field])
    return before


def changed(before: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a change: the fields that moved, before and after."""
    return audit.diff(before, {field: changes[field] for field in before})


def unit_values(unit: Unit) -> dict[str, Any]:
    """What the audit trail keeps of a unit created or deleted: its fields."""
    return audit.values(unit.model_dump(exclude={"code", "webhook_secret_generation"}))


def check_span(unit: Unit) -> None:
    """Refuse a unit whose last active day comes before its first."""
    if unit.active_until is not None and unit.active_until < unit.active_from:
        message = "active_until must not be before active_from"
        raise Invalid("invalid", message, [FieldProblem("active_until", "after_active_from",
                                                        message)])


def check_unique_name(session: Session, unit: Unit) -> None:
    """Refuse a name (tone placement ignored) or admin code another unit has."""
    other = store.unit_by_name_key(session, unit.name_key)
    if other is not None and other.code != unit.code:
        raise Conflict("name_taken", f"unit {other.code!r} already has this name",
                       [FieldProblem("name", "unique", f"same as {other.code}")])
    if unit.admin_code:
        holder = store.unit_by_admin_code(session, unit.admin_code)
        if holder is not None and holder.code != unit.code:
            raise Conflict("admin_code_taken", f"unit {holder.code!r} has this admin code",
                           [FieldProblem("admin_code", "unique", f"same as {holder.code}")])


def stage_unit(session: Session, unit: Unit, *, new: bool) -> None:
    """Add a unit's change and its snapshot to the transaction, without committing."""
    if not new:
        unit.revision += 1
    unit.updated_at = datetime.now(UTC)
    session.add(unit)
    enqueue(session, UNITS, unit.code, unit_snapshot(unit))


def commit(session: Session) -> None:
    """Commit, turning a lost race on a unique key into a conflict."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("conflict", "another change took this value first") from exc


# --- campaigns ---------------------------------------------------------------------------


def campaign_public(campaign: Campaign) -> CampaignPublic:
    """The API view of a campaign."""
    return CampaignPublic.model_validate(campaign.model_dump())


def campaign_snapshot(campaign: Campaign) -> CampaignSnapshot:
    """The event view of a campaign."""
    return CampaignSnapshot(**campaign_public(campaign).model_dump(exclude={"created_at"}))


def campaign_periods(campaign: Campaign, now: datetime) -> CampaignPeriodsPublic:
    """A campaign's periods with their deadlines, which one is current and which are due."""
    snapshot = campaign_snapshot(campaign)
    today = periods.local_day(now)
    current = periods.current(snapshot, today)
    return CampaignPeriodsPublic(
        campaign=campaign.code, reporting_period=snapshot.reporting_period,
        current=current.name if current else None, closes_on=snapshot.closes_on,
        items=[PeriodPublic(period=p.name, starts_on=p.start, ends_on=p.end,
                            deadline=p.deadline, current=p == current, due=p.deadline < now)
               for p in periods.of_campaign(snapshot)])


def get_campaign_or_raise(session: Session, code: str, *,
                          for_update: bool = False) -> Campaign:
    """The campaign with this code, or NotFound."""
    campaign = store.get_campaign(session, code, for_update=for_update)
    if campaign is None:
        raise not_found("campaign", code)
    return campaign


def create_campaign(session: Session, data: CampaignCreate, *, by: Actor) -> Campaign:
    """Register a campaign and publish its snapshot."""
    if store.get_campaign(session, data.code) is not None:
        raise Conflict("code_taken", f"a campaign with code {data.code!r} exists",
                       [FieldProblem("code", "unique", "code already used")])
    campaign = Campaign(code=data.code, **_campaign_fields(data))
    audit.record(session, by, "campaign", data.code, "created",
                 audit.values(_campaign_values(campaign)))
    _save_campaign(session, campaign)
    log.info("campaign.created", campaign=data.code)
    return campaign


def replace_campaign(session: Session, code: str, data: CampaignBody, *,
                     by: Actor) -> Campaign:
    """Replace a campaign's calendar and targets; a body equal to what it holds changes
    nothing: no revision, no entry, nothing published."""
    campaign = get_campaign_or_raise(session, code, for_update=True)
    before = _campaign_values(campaign)
    for field, value in _campaign_fields(data).items():
        setattr(campaign, field, value)
    changes = audit.diff(before, _campaign_values(campaign))
    if not changes:
        session.rollback()  # let the row lock go
        session.refresh(campaign)
        return campaign
    campaign.revision += 1
    audit.record(session, by, "campaign", code, "updated", changes)
    _save_campaign(session, campaign)
    log.info("campaign.updated", campaign=code, revision=campaign.revision)
    return campaign


def _campaign_fields(data: CampaignBody) -> dict[str, Any]:
    """Dates stay dates (their columns want them); nested parts become JSON values."""
    parts = {"peak_windows", "deadline", "targets", "notifications"}
    nested = data.model_dump(mode="json", include=parts)
    return data.model_dump(exclude={"code", *parts}) | nested


def _campaign_values(campaign: Campaign) -> dict[str, Any]:
    return campaign.model_dump(exclude={"code"})


def _save_campaign(session: Session, campaign: Campaign) -> None:
    campaign.updated_at = datetime.now(UTC)
    session.add(campaign)
    enqueue(session, CAMPAIGNS, campaign.code, campaign_snapshot(campaign))
    commit(session)


def seed_campaigns(session: Session, folder: Path, *, by: Actor = audit.SEED) -> list[str]:
    """Create each campaign of `folder` that does not exist yet; never overwrite one."""
    created = []
    for path in sorted(folder.glob("*.json")):
        data = CampaignCreate.model_validate(json.loads(path.read_text(encoding="utf-8")))
        if store.get_campaign(session, data.code) is None:
            create_campaign(session, data, by=by)
            created.append(data.code)
    return created


# --- credentials -------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so one SHA-256 round is enough to keep them safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def credential_public(credential: Credential) -> CredentialPublic:
    """The API view of a credential (never the token)."""
    return CredentialPublic.model_validate(credential.model_dump())


def credential_snapshot(credential: Credential) -> CredentialSnapshot:
    """The event view of a credential (the token's hash only)."""
    return CredentialSnapshot(**credential.model_dump(exclude={"token_prefix"}))


def issue_credential(session: Session, data: CredentialCreate, *,
                     by: Actor) -> CredentialIssued:
    """Issue a token; it is returned once and only its hash is stored."""
    if data.unit_code is not None:
        get_unit_or_raise(session, data.unit_code)
    issued = _issue(session, data.scope, data.unit_code, data.label, by=by)
    commit(session)
    log.info("credential.issued", credential=issued.id, scope=data.scope, unit=data.unit_code)
    return issued


def issue_unit_credentials(session: Session, data: CredentialBatchCreate, *, by: Actor,
                           shown: Callable[[CredentialsIssued], T]) -> T:
    """A unit token for each unit named, in one transaction: all of them or, if a code is
    unknown, none. With `replace`, the units' earlier unit tokens are revoked in it too.
    `shown` makes what the caller is given (the tokens as a file, say) before the commit:
    if it fails, nothing is issued or revoked."""
    found = store.units_by_code(session, data.unit_codes)
    unknown = [FieldProblem(f"unit_codes.{at}", "unit_not_found", f"no unit with code {code!r}")
               for at, code in enumerate(data.unit_codes) if code not in found]
    if unknown:
        raise Invalid("unit_not_found", f"{len(unknown)} of the codes name no unit; "
                      "no token was issued", capped(unknown, _more))
    revoked = 0
    if data.replace:
        for credential in store.unit_credentials_of(session, data.unit_codes):
            if credential.revoked_at is None:
                _revoke(session, credential, by=by, note="replaced by a new hand-out")
                revoked += 1
    issued = [_issue(session, CredentialScope.unit, code, data.label, by=by)
              for code in data.unit_codes]
    try:
        answer = shown(CredentialsIssued(items=issued, total=len(issued), revoked=revoked))
    except BaseException:
        session.rollback()
        raise
    commit(session)
    log.info("credential.issued_many", count=len(issued), revoked=revoked)
    return answer


def _more(rest: Sequence[FieldProblem]) -> FieldProblem:
    return FieldProblem("", MORE_PROBLEMS, left_off(rest))


def _issue(session: Session, scope: CredentialScope, unit_code: str | None,
           label: str, *, by: Actor) -> CredentialIssued:
    """A new credential, its snapshot in the outbox and its audit entry (never the token),
    in the caller's transaction."""
    token = new_token(datetime.now(UTC))
    credential = Credential(id=f"cred_{secrets.token_hex(8)}", scope=scope,
                            unit_code=unit_code, label=label,
                            token_sha256=hash_token(token), token_prefix=token[:10])
    session.add(credential)
    audit.record(session, by, "credential", credential.id, "issued", audit.values(
        credential.model_dump(include={"scope", "unit_code", "label"})))
    enqueue(session, CREDENTIALS, credential.id, credential_snapshot(credential))
    return CredentialIssued(**credential_public(credential).model_dump(), token=token)


def revoke_credential(session: Session, credential_id: str, *, by: Actor) -> Credential:
    """Revoke a credential at once; revoking twice changes nothing."""
    credential = store.get_credential(session, credential_id)
    if credential is None:
        raise not_found("credential", credential_id)
    if credential.revoked_at is None:
        _revoke(session, credential, by=by)
        commit(session)
        log.info("credential.revoked", credential=credential_id)
    return credential


def _revoke(session: Session, credential: Credential, *, by: Actor,
            note: str | None = None) -> None:
    """Revoke in the caller's transaction, and record it; one already revoked keeps the
    time it was, and nothing is published or recorded again."""
    if credential.revoked_at is not None:
        return
    now = datetime.now(UTC)
    audit.record(session, by, "credential", credential.id, "revoked",
                 audit.diff({"revoked_at": None}, {"revoked_at": now}), note=note)
    credential.revoked_at = now
    session.add(credential)
    enqueue(session, CREDENTIALS, credential.id, credential_snapshot(credential))


def actor_of(session: Session, caller: Caller) -> Actor:
    """The audit trail's actor for a caller, named by its credential's label."""
    credential = store.get_credential(session, caller.credential_id) \
        if caller.credential_id else None
    return audit.actor_of(caller, credential.label if credential else None)


def caller_public(session: Session, caller: Caller) -> CallerPublic:
    """Who a caller is, as the registry holds it."""
    credential = store.get_credential(session, caller.credential_id) \
        if caller.credential_id else None
    unit = store.get_unit(session, caller.unit_code) if caller.unit_code else None
    return CallerPublic(scope=caller.scope, unit_code=caller.unit_code,
                        unit_name=unit.name if unit else None,
                        unit_kind=unit.kind if unit else None,
                        credential_id=caller.credential_id,
                        label=credential.label if credential else None)


def authenticate(session: Session, token: str) -> Credential | None:
    """The valid credential a bearer token belongs to, if any."""
    credential = store.credential_by_hash(session, hash_token(token))
    if credential is None or credential.revoked_at is not None:
        return None
    return credential


# --- republishing ------------------------------------------------------------------------


def republish_all(session: Session) -> dict[str, int]:
    """Queue every entity's snapshot again, so a topic can be rebuilt from nothing."""
    units: Sequence[Unit] = store.all_units(session)
    campaigns = store.all_campaigns(session)
    credentials = store.all_credentials(session)
    for unit in units:
        enqueue(session, UNITS, unit.code, unit_snapshot(unit))
    for campaign in campaigns:
        enqueue(session, CAMPAIGNS, campaign.code, campaign_snapshot(campaign))
    for credential in credentials:
        enqueue(session, CREDENTIALS, credential.id, credential_snapshot(credential))
    commit(session)
    counts = {"units": len(units), "campaigns": len(campaigns), "credentials": len(credentials)}
    log.info("registry.republished", **counts)
    return counts
