"""Aggregator tables: the standing version of each unit's report and what it counts."""

from datetime import date, datetime

from sqlalchemy import DateTime, Index, Text
from sqlmodel import Column, Field, SQLModel


class PeriodReport(SQLModel, table=True):
    """The version of a unit's report that counts for a period (the highest seen)."""

    __tablename__ = "period_reports"
    __table_args__ = (
        Index("ix_period_reports_below", "campaign_code", "period", "weekly_fails_on",
              "daily_fails_on"),
        Index("ix_period_reports_unit", "unit_code", "campaign_code"))

    campaign_code: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    unit_code: str = Field(primary_key=True, max_length=64)
    unit_kind: str = Field(max_length=32)
    unit_parent: str = Field(default="", max_length=8)  # see UnitParent; "": none known
    report_id: str = Field(max_length=64)
    version: int
    on_time: bool  # the first report arrived by the deadline (see service.timeliness)
    received_at: datetime = Field(sa_type=DateTime(timezone=True))  # of the standing version
    # The earliest reception known for this key; null for a revision folded from a message
    # that predates the field, with no version 1 seen (then `on_time` is the message's own).
    first_received_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    period_start: date
    period_end: date
    # Kept for the feeds, so that no request walks a unit's days: its broadcasts over the
    # period (null for a unit without the duty), and the first day on which it falls below
    # the weekly or the peak-day target (null: never), judged against the campaign's
    # `judged_revision` (null: not judged yet, see service.verdict).
    loudspeaker_total: int | None = None
    weekly_fails_on: date | None = None
    daily_fails_on: date | None = None
    judged_revision: int | None = None
    # Who entered the standing version on the unit's behalf (the credential's label); null
    # for a report the unit sent itself.
    entered_by: str | None = Field(default=None, max_length=200)


class PeriodFigures(SQLModel, table=True):
    """Kept by the fold with the reports: how many units of a kind and parent reported for
    a period, and how many of them on time. `revision` grows with every change (the feeds'
    ETag)."""

    __tablename__ = "period_figures"

    campaign_code: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    unit_kind: str = Field(primary_key=True, max_length=32)
    unit_parent: str = Field(primary_key=True, default="", max_length=8)
    reported: int = 0
    on_time: int = 0
    revision: int = 0


class PeriodTotal(SQLModel, table=True):
    """Kept by the fold with the reports: what the standing reports of a period count, by
    the reporting unit's kind and parent, the activity kind and its details."""

    __tablename__ = "period_totals"

    campaign_code: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    unit_kind: str = Field(primary_key=True, max_length=32)
    unit_parent: str = Field(primary_key=True, default="", max_length=8)
    kind: str = Field(primary_key=True, max_length=32)
    platform: str = Field(primary_key=True, default="", max_length=16)
    format: str = Field(primary_key=True, default="", max_length=16)
    language: str = Field(primary_key=True, default="", max_length=8)
    channel: str = Field(primary_key=True, default="", max_length=16)
    count: int = 0
    people_mobilised: int = 0
    shares: int = 0


class ActivityCount(SQLModel, table=True):
    """What the standing report of a unit and period counts, by kind and detail."""

    __tablename__ = "activity_counts"

    campaign_code: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    unit_code: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=32)
    platform: str = Field(primary_key=True, default="", max_length=16)
    format: str = Field(primary_key=True, default="", max_length=16)
    language: str = Field(primary_key=True, default="", max_length=8)
    channel: str = Field(primary_key=True, default="", max_length=16)
    unit_kind: str = Field(max_length=32)
    unit_parent: str = Field(default="", max_length=8)
    count: int = 0
    people_mobilised: int = 0
    shares: int = 0


class UnitParent(SQLModel, table=True):
    """The parent of each unit as the fold has read it from the registry's unit topic (in
    its own transactions, so that a report and a re-parenting are folded one after the
    other): the standing reports and the kept figures are keyed by it."""

    __tablename__ = "unit_parents"

    unit_code: str = Field(primary_key=True, max_length=64)
    parent: str = Field(max_length=8)  # "": none
    revision: int


class Breach(SQLModel, table=True):
    """A breach already announced; its id makes the announcement once-only."""

    __tablename__ = "breaches"

    id: str = Field(primary_key=True, max_length=200)
    detected_at: datetime = Field(sa_type=DateTime(timezone=True))


class DailyBroadcast(SQLModel, table=True):
    """Loudspeaker broadcasts of a unit on a day, from its standing report."""

    __tablename__ = "daily_broadcasts"
    __table_args__ = (Index("ix_daily_broadcasts_key", "campaign_code", "period", "unit_code"),)

    campaign_code: str = Field(primary_key=True, max_length=64)
    unit_code: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    period: str = Field(max_length=16)
    count: int


class ReportVersion(SQLModel, table=True):
    """Every version of every report the fold has read, whole, with the moment the system
    recorded it: the compiled report counts the versions recorded up to its stated time,
    so that it says the same however many came after."""

    __tablename__ = "report_versions"
    __table_args__ = (Index("ix_report_versions_recorded", "campaign_code", "recorded_at"),)

    campaign_code: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    unit_code: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    # `received_at`, or for a report entered on the unit's behalf `entered_at`: its stated
    # reception may be days earlier than the moment it reached the system.
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True))
    event: str = Field(sa_column=Column(Text, nullable=False))  # the ReportSubmitted JSON
