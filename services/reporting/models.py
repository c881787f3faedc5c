"""Reporting tables. Never sent over the wire: see schemas.py and services.events."""

from datetime import datetime

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel


class ReportHead(SQLModel, table=True):
    """The newest version of each unit's report for a campaign period, and when its first
    version arrived (timeliness counts the first report)."""

    __tablename__ = "report_heads"

    unit_code: str = Field(primary_key=True, max_length=64)
    campaign_code: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    report_id: str = Field(max_length=64)
    version: int
    content_sha256: str = Field(max_length=64)
    first_received_at: datetime = Field(sa_type=DateTime(timezone=True))


class Report(SQLModel, table=True):
    """One accepted report, every version kept; `event` is what was published. A report id
    is the unit's own: two units may choose the same one, and neither learns of the other's."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("unit_code", "campaign_code", "period", "version"),)

    unit_code: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    campaign_code: str = Field(max_length=64)
    period: str = Field(max_length=16)
    version: int
    supersedes: str | None = Field(default=None, max_length=64)
    received_at: datetime = Field(sa_type=DateTime(timezone=True))
    on_time: bool
    content_sha256: str = Field(max_length=64)
    event: str = Field(sa_column=Column(Text, nullable=False))
