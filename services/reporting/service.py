"""Intake decisions: who may report, whether a report is sound, and which version it is."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from services.events import REPORTS, CampaignSnapshot, ReportSubmitted, UnitSnapshot
from services.events.reports import LoudspeakerBroadcast
from services.http import ApiError
from services.outbox import enqueue
from services.reporting import periods, store
from services.reporting.directory import Directory
from services.reporting.models import Report
from services.reporting.schemas import ReportIn

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Caller:
    scope: str  # "unit" or "leadership"
    unit_code: str | None
    credential_id: str


@dataclass(frozen=True)
class Draft:
    """A checked report, ready to be numbered and stored."""

    report_id: str | None
    unit: UnitSnapshot
    campaign: CampaignSnapshot
    period: str
    start: date
    end: date
    body: ReportIn
    content_sha256: str
    received_at: datetime


def rule(status: int, code: str, field: str, message: str) -> ApiError:
    """A refusal that names the field and the rule it broke."""
    return ApiError(status, code, message, [{"field": field, "rule": code, "message": message}])


def authenticate(directory: Directory, token: str | None) -> Caller:
    """The caller a bearer token belongs to, or 401."""
    if not token:
        raise ApiError(401, "unauthenticated", "an Authorization: Bearer token is required")
    credential = directory.credentials.get(hashlib.sha256(token.encode()).hexdigest())
    if credential is None or credential.revoked_at is not None:
        raise ApiError(401, "unauthenticated", "the token is unknown or revoked")
    return Caller(credential.scope, credential.unit_code, credential.id)


def reporting_unit(directory: Directory, caller: Caller, today: date) -> UnitSnapshot:
    """The unit a caller reports for; 403 for readers, deleted and retired units."""
    if caller.scope != "unit" or caller.unit_code is None:
        raise ApiError(403, "forbidden", "only a unit's own token submits its reports")
    unit = directory.units.get(caller.unit_code)
    if unit is None:
        raise ApiError(403, "unit_unknown", "the token's unit is not in the registry")
    if unit.active_until is not None and unit.active_until < today:
        raise ApiError(403, "unit_retired", f"the unit was retired on {unit.active_until}")
    if unit.active_from > today:
        raise ApiError(403, "unit_not_active", f"the unit reports from {unit.active_from}")
    return unit


def prepare(directory: Directory, unit: UnitSnapshot, body: ReportIn,
            idempotency_key: str | None, received_at: datetime) -> Draft:
    """Check a report against its campaign and period; 422 names the rule broken."""
    if body.unit is not None and body.unit != unit.code:
        raise rule(403, "unit_mismatch", "unit", "a unit token reports only for its own unit")
    campaign = _running_campaign(directory, body.campaign, received_at.astimezone(LOCAL_ZONE))
    if unit.kind not in campaign.targets:
        raise rule(422, "unit_kind_not_expected", "campaign",
                   f"campaign {campaign.code} expects no reports from {unit.kind} units")
    start, end = _period(campaign, body.period)
    _check_days(body, start, end)
    report_id = body.report_id or _id_from_key(unit.code, idempotency_key)
    return Draft(report_id, unit, campaign, body.period, start, end, body,
                 _content_hash(body), received_at)


def _running_campaign(directory: Directory, code: str, now: datetime) -> CampaignSnapshot:
    campaign = directory.campaigns.get(code)
    if campaign is None:
        raise rule(422, "campaign_unknown", "campaign", f"no campaign with code {code!r}")
    if now.date() < campaign.starts_on:
        raise rule(422, "campaign_not_running", "campaign",
                   f"campaign {code} starts on {campaign.starts_on}")
    if campaign.closes_on is not None and now.date() > campaign.closes_on:
        raise rule(422, "campaign_not_running", "campaign",
                   f"campaign {code} stopped taking reports on {campaign.closes_on}")
    return campaign


def _period(campaign: CampaignSnapshot, period: str) -> tuple[date, date]:
    try:
        start, end = periods.bounds(period, campaign.reporting_period)
    except periods.PeriodError as exc:
        raise rule(422, "period_format", "period", str(exc)) from None
    if end < campaign.starts_on or start > campaign.ends_on:
        raise rule(422, "period_outside_campaign", "period",
                   f"{period} is outside the campaign ({campaign.starts_on} to "
                   f"{campaign.ends_on})")
    return start, end


def _check_days(body: ReportIn, start: date, end: date) -> None:
    for index, activity in enumerate(body.activities):
        if isinstance(activity, LoudspeakerBroadcast):
            outside = sorted(d for d in activity.daily_counts if not start <= d <= end)
            if outside:
                raise rule(422, "day_outside_period", f"activities.{index}.daily_counts",
                           f"{outside[0]} is not in the period ({start} to {end})")


def _id_from_key(unit_code: str, key: str | None) -> str | None:
    if key is None:
        return None
    return "idem-" + hashlib.sha256(f"{unit_code}\n{key}".encode()).hexdigest()[:32]


def _content_hash(body: ReportIn) -> str:
    content = body.model_dump(mode="json", exclude={"report_id", "unit"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def accept(session: Session, draft: Draft) -> tuple[ReportSubmitted, bool]:
    """Store a report and queue its event, or find the one it repeats; never commits.

    Returns the event and whether it is a replay of an earlier submission."""
    if draft.report_id is not None:
        earlier = session.get(Report, draft.report_id)
        if earlier is not None:
            return _replay(earlier, draft), True
    latest = store.latest_version(session, draft.unit.code, draft.campaign.code, draft.period)
    if latest is not None and draft.report_id is None and \
            latest.content_sha256 == draft.content_sha256:
        return ReportSubmitted.model_validate_json(latest.event), True
    event = _event(draft, latest)
    session.add(Report(id=event.report_id, unit_code=event.unit_code,
                       campaign_code=event.campaign_code, period=event.period,
                       version=event.version, supersedes=event.supersedes,
                       received_at=event.received_at, on_time=event.on_time,
                       content_sha256=draft.content_sha256, event=event.model_dump_json()))
    enqueue(session, REPORTS, event.unit_code, event)
    session.flush()
    return event, False


def _replay(earlier: Report, draft: Draft) -> ReportSubmitted:
    if earlier.unit_code != draft.unit.code or earlier.content_sha256 != draft.content_sha256:
        raise rule(409, "report_id_reused", "report_id",
                   "this report id was used for a different report; choose a new id")
    return ReportSubmitted.model_validate_json(earlier.event)


def _event(draft: Draft, latest: Report | None) -> ReportSubmitted:
    deadline = periods.deadline(draft.end, draft.campaign.deadline)
    return ReportSubmitted(
        report_id=draft.report_id or f"rpt-{secrets.token_hex(12)}",
        unit_code=draft.unit.code, unit_kind=draft.unit.kind,
        campaign_code=draft.campaign.code, period=draft.period, period_start=draft.start,
        period_end=draft.end, version=latest.version + 1 if latest else 1,
        supersedes=latest.id if latest else None, received_at=draft.received_at,
        deadline=deadline, on_time=draft.received_at <= deadline,
        activities=draft.body.activities, note=draft.body.note)


def republish_all(session: Session) -> int:
    """Queue every stored report's event again (the broker lost its topics)."""
    count = 0
    for report in store.all_reports(session):
        enqueue(session, REPORTS, report.unit_code,
                ReportSubmitted.model_validate_json(report.event))
        count += 1
    session.commit()
    return count
