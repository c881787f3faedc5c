"""The notifier's API (admin and leadership tokens): what was sent and what waits, a parked
notification sent again, a campaign's schedule, a template previewed with a real unit."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import select

from services import periods
from services.bus.directory import Directory
from services.notifier import planning, store
from services.notifier.dispatch import Clock, resend
from services.notifier.handlers import Rules
from services.notifier.models import State, Wave
from services.notifier.schedule import reminders
from services.notifier.schemas import (
    NotificationDetail,
    NotificationPublic,
    PreviewPublic,
    SchedulePublic,
    WavePublic,
)
from services.refusals import Conflict, NotFound
from services.web.auth import AdminDep, ReaderDep
from services.web.db import SessionDep
from services.web.errors import documented
from services.web.schemas import OffsetQuery, Page

router = APIRouter(prefix="/v1", tags=["notifications"])
Kind = Literal["receipt", "reminder", "breach", "digest"]
StateName = Literal["scheduled", "sending", "sent", "parked", "cancelled"]
Code = Annotated[str | None, Query(max_length=64)]


async def _directory(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


async def _rules(request: Request) -> Rules:
    rules: Rules = request.app.state.rules
    return rules


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


DirectoryDep = Annotated[Directory, Depends(_directory)]
RulesDep = Annotated[Rules, Depends(_rules)]
ClockDep = Annotated[Clock, Depends(_clock)]


@router.get("/notifications", responses=documented(401, 403, 422))
def list_notifications(_: ReaderDep, session: SessionDep, unit: Code = None,
                       campaign: Code = None,
                       period: Annotated[str | None, Query(max_length=16)] = None,
                       kind: Kind | None = None, state: StateName | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       offset: OffsetQuery = 0) -> Page[NotificationPublic]:
    """Notifications, the latest due first, with state, attempts and last error."""
    items, total = store.listing(session, unit_code=unit, campaign=campaign, period=period,
                                 kind=kind, state=state, limit=limit, offset=offset)
    return Page(items=[NotificationPublic.of(n) for n in items], total=total)


@router.get("/notifications/{key}/{channel}", responses=documented(401, 403, 404, 422))
def get_notification(key: str, channel: str, _: ReaderDep,
                     session: SessionDep) -> NotificationDetail:
    """One notification, with its text."""
    found = store.get(session, key, channel)
    if found is None:
        raise NotFound("notification_not_found", f"no {channel} notification {key!r}")
    return NotificationDetail.of(found)


@router.post("/notifications/{key}/{channel}/resend",
             responses=documented(401, 403, 404, 409, 422))
def resend_notification(key: str, channel: str, _: AdminDep, session: SessionDep,
                        request: Request, clock: ClockDep) -> NotificationPublic:
    """Send a parked notification again, its attempts counted afresh."""
    found = store.get(session, key, channel)  # a write: the session holds the lock
    if found is None:
        raise NotFound("notification_not_found", f"no {channel} notification {key!r}")
    if found.state != State.parked:
        raise Conflict("not_parked", f"the notification is {found.state}: only a parked "
                       "one is sent again")
    resend(found, clock.now())
    session.add(found)
    session.commit()
    request.app.state.wake_dispatcher()
    return NotificationPublic.of(found)


@router.get("/campaigns/{code}/notification-schedule", responses=documented(401, 403, 404, 422))
def schedule(code: str, _: ReaderDep, session: SessionDep, directory: DirectoryDep,
             rules_of: RulesDep) -> SchedulePublic:
    """The campaign's reminder steps, quiet hours, digest hour and every reminder wave."""
    campaign = directory.campaigns.get(code)
    if campaign is None:
        raise NotFound("campaign_not_found", f"no campaign {code!r}")
    rules = rules_of(code)
    planned = {(w.period, w.step): w for w in session.exec(
        select(Wave).where(Wave.campaign == code))}
    waves = [WavePublic(period=d.period.name, step=d.step.name, due_at=d.at,
                        planned=(d.period.name, d.step.name) in planned,
                        reminders=(w.reminders if (w := planned.get(
                            (d.period.name, d.step.name))) else None))
             for d in reminders(campaign, rules)]
    quiet = rules.quiet_hours
    return SchedulePublic(campaign=code, reminders=list(rules.reminders),
                          quiet_hours=(quiet.starts, quiet.ends) if quiet else None,
                          digest_at=rules.digest_at,
                          department_emails=list(rules.department_emails), waves=waves)


@router.get("/notifications/preview", responses=documented(401, 403, 404, 422))
def preview(_: ReaderDep, directory: DirectoryDep, rules_of: RulesDep, request: Request,
            unit: Annotated[str, Query(max_length=64)],
            campaign: Annotated[str, Query(max_length=64)],
            period: Annotated[str, Query(max_length=16)],
            step: Annotated[str | None, Query(max_length=32)] = None) -> PreviewPublic:
    """A reminder's text for a real unit and period (the first step unless `step` names
    one), as it would be sent."""
    found = directory.units.get(unit)
    if found is None:
        raise NotFound.on("unit", "unit_not_found", f"no unit {unit!r}")
    known = directory.campaigns.get(campaign)
    if known is None:
        raise NotFound.on("campaign", "campaign_not_found", f"no campaign {campaign!r}")
    rules = rules_of(campaign)
    due = next((d for d in reminders(known, rules) if d.period.name == period
                and (step is None or d.step.name == step)), None)
    if due is None:
        names = ", ".join(p.name for p in periods.of_campaign(known))
        raise NotFound.on("period", "period_not_found", f"{period} (step {step}) is not a "
                          f"reminder of the campaign; its periods: {names}")
    rows = planning.reminders(due, known, [found.model_copy(update={
        "contacts": found.contacts.model_copy(update={"email": "preview@localhost"})})],
        rules, request.app.state.links, datetime.now(UTC))
    return PreviewPublic(subject=rows[0].subject, body=rows[0].body)
