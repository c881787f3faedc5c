"""Notifier queries. Functions here read and change rows; they never commit."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from services.database import insert_on_conflict
from services.notifier.models import Notification, State


def add_new(session: Session, notifications: Sequence[Notification]) -> int:
    """Add the notifications whose (key, channel) is not there yet; how many were new. A
    notification scheduled twice, cancelled or sent, stays as it is."""
    if not notifications:
        return 0
    rows = [n.model_dump() for n in notifications]
    statement = insert_on_conflict(session)(Notification).values(rows).on_conflict_do_nothing(
        index_elements=["key", "channel"])
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def cancel_reminders(session: Session, unit_code: str, campaign: str, period: str) -> int:
    """Reminders of a unit's period not yet sent: cancelled (its report is in)."""
    result = session.execute(
        update(Notification)
        .where(col(Notification.unit_code) == unit_code, col(Notification.campaign) == campaign,
               col(Notification.period) == period, col(Notification.kind) == "reminder",
               col(Notification.state) == State.scheduled)
        .values(state=State.cancelled, last_error=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim_due(session: Session, now: datetime, lease_until: datetime,
              limit: int) -> list[Notification]:
    """Take the notifications due now, and those whose dispatcher's lease ran out (it died
    with them in flight), for this dispatcher until `lease_until`. Another dispatcher on
    PostgreSQL skips the rows this one holds; on SQLite the write lock keeps them apart."""
    due = (select(Notification)
           .where(or_(col(Notification.state) == State.scheduled,
                      col(Notification.state) == State.sending),
                  or_(col(Notification.state) != State.sending,
                      col(Notification.lease_until) < now),
                  col(Notification.due_at) <= now)
           .order_by(col(Notification.due_at)).limit(limit)
           .with_for_update(skip_locked=True))
    taken = list(session.exec(due).all())
    for notification in taken:
        notification.state = State.sending
        notification.lease_until = lease_until
        notification.attempts += 1
        session.add(notification)
    return taken


def get(session: Session, key: str, channel: str) -> Notification | None:
    return session.get(Notification, (key, channel))


def listing(session: Session, *, unit_code: str | None = None, campaign: str | None = None,
            period: str | None = None, kind: str | None = None, state: str | None = None,
            limit: int = 50, offset: int = 0) -> tuple[Sequence[Notification], int]:
    """One page of the matching notifications, newest first, and how many match."""
    query = select(Notification)
    for column, value in ((Notification.unit_code, unit_code), (Notification.campaign, campaign),
                          (Notification.period, period), (Notification.kind, kind),
                          (Notification.state, state)):
        if value is not None:
            query = query.where(column == value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = query.order_by(col(Notification.due_at).desc(), col(Notification.key),
                          col(Notification.channel)).limit(limit).offset(offset)
    return session.exec(page).all(), total
