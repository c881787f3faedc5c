"""What the notifier's API sends, typed."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from services.events import ReminderStep
from services.notifier.models import Notification
from services.web.schemas import LocalTime


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class NotificationPublic(BaseModel):
    """One message to one channel, with its delivery so far."""

    key: str = Field(description="Deterministic: kind, campaign, period, unit and step; also "
                     "the message's Message-ID and webhook-id.")
    channel: str = Field(description="email or webhook.")
    kind: str = Field(description="receipt, reminder, breach or digest.")
    campaign: str
    period: str | None
    unit: str | None = Field(description="The unit it goes to; null for the digest.")
    step: str = Field(description="The reminder step, the receipt's version, the rule.")
    recipient: str
    copy_to: str | None
    subject: str
    state: str = Field(description="scheduled, sending, sent, parked or cancelled.")
    due_at: UtcDatetime = Field(description="When it is (or was) due, or its next attempt.")
    attempts: int
    last_error: str | None
    sent_at: UtcDatetime | None

    @classmethod
    def of(cls, n: Notification) -> "NotificationPublic":
        return cls(key=n.key, channel=n.channel, kind=n.kind, campaign=n.campaign,
                   period=n.period, unit=n.unit_code, step=n.step, recipient=n.recipient,
                   copy_to=n.copy_to, subject=n.subject, state=n.state, due_at=n.due_at,
                   attempts=n.attempts, last_error=n.last_error, sent_at=n.sent_at)


class NotificationDetail(NotificationPublic):
    body: str = Field(description="The text as sent.")

    @classmethod
    def of(cls, n: Notification) -> "NotificationDetail":
        return cls(**NotificationPublic.of(n).model_dump(), body=n.body)


class WavePublic(BaseModel):
    period: str
    step: str
    due_at: UtcDatetime = Field(description="When the step falls due (before quiet hours).")
    planned: bool = Field(description="Planned already: its reminders are in the list.")
    reminders: int | None = Field(description="Units reminded, once planned.")


class SchedulePublic(BaseModel):
    """A campaign's notification rules, and its reminder waves."""

    campaign: str
    reminders: list[ReminderStep]
    quiet_hours: tuple[LocalTime, LocalTime] | None = Field(description="Local start and end.")
    digest_at: LocalTime
    department_emails: list[str]
    waves: list[WavePublic]


class PreviewPublic(BaseModel):
    subject: str
    body: str
