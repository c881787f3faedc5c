"""Notifier tables. Never sent over the wire: see schemas.py and services.events."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, Text
from sqlmodel import Column, Field, SQLModel


class State(StrEnum):
    scheduled = "scheduled"  # waits for its moment (or its next attempt)
    sending = "sending"  # taken by a dispatcher, whose lease says until when
    sent = "sent"  # the channel accepted it
    parked = "parked"  # failed every attempt; waits for a person to send it again
    cancelled = "cancelled"  # no longer due: the report came in, the unit retired


class Notification(SQLModel, table=True):
    """One message to one channel of one recipient. `key` is deterministic (kind, campaign,
    period, unit, step), so whatever schedules it twice finds it there; with the channel it
    is the message's `Message-ID` and `webhook-id`, the same on every attempt."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "due_at"),
                      Index("ix_notifications_unit", "unit_code", "campaign", "period"))

    key: str = Field(primary_key=True, max_length=200)
    channel: str = Field(primary_key=True, max_length=16)
    kind: str = Field(max_length=16)
    campaign: str = Field(max_length=64)
    period: str | None = Field(default=None, max_length=16)
    unit_code: str | None = Field(default=None, max_length=64)
    step: str = Field(max_length=64)
    recipient: str = Field(max_length=2000)
    copy_to: str | None = Field(default=None, max_length=2000)
    language: str = Field(max_length=8)
    subject: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the webhook's JSON data
    state: str = Field(max_length=16)  # a State
    due_at: datetime = Field(sa_type=DateTime(timezone=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Reported(SQLModel, table=True):
    """A unit's report is in for a period (its first version's timeliness): who is missing
    a period is who the campaign expects and is not here."""

    __tablename__ = "reported"

    campaign: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    unit_code: str = Field(primary_key=True, max_length=64)
    unit_kind: str = Field(max_length=32)
    on_time: bool


class Wave(SQLModel, table=True):
    """A reminder step of a period, planned: its reminders are in the notifications."""

    __tablename__ = "waves"

    campaign: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    step: str = Field(primary_key=True, max_length=32)
    planned_at: datetime = Field(sa_type=DateTime(timezone=True))
    reminders: int


class Breach(SQLModel, table=True):
    """A breach the aggregator announced, until a digest has listed it. (Named apart from the
    aggregator's own `breaches`: every service's tables share SQLModel's one metadata.)"""

    __tablename__ = "digest_breaches"

    breach_id: str = Field(primary_key=True, max_length=300)
    campaign: str = Field(max_length=64, index=True)
    event: str = Field(sa_column=Column(Text, nullable=False))  # BreachDetected's JSON
    detected_at: datetime = Field(sa_type=DateTime(timezone=True))
    digest_day: str | None = Field(default=None, max_length=10)  # the digest that listed it
