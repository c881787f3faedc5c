"""Request and response bodies of the reporting HTTP API."""

from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from services.events import Activity, ReportSubmitted

T = TypeVar("T")
ReportId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class ReportIn(BaseModel):
    """A unit's report for one period of a campaign."""

    model_config = ConfigDict(extra="forbid")

    report_id: ReportId | None = Field(None, description="Client-chosen id: sending the same "
                                       "report again with it returns the first receipt.")
    unit: str | None = Field(None, max_length=64, description="The reporting unit; when "
                             "given it must be the token's own.")
    campaign: str = Field(max_length=64, description="Campaign code, e.g. dai-hoi-xiv.")
    period: str = Field(max_length=16, description="Period, e.g. 2026-W04 (ISO week).")
    activities: list[Activity] = Field(max_length=500, description="What was done.")
    note: str | None = Field(None, max_length=4000, description="Free text.")


class Receipt(BaseModel):
    """What intake answers for an accepted report. Validates from a stored ReportSubmitted
    too: its other fields are skipped, so a replay need not rebuild the whole event."""

    report_id: str
    unit: str = Field(validation_alias=AliasChoices("unit", "unit_code"))
    campaign: str = Field(validation_alias=AliasChoices("campaign", "campaign_code"))
    period: str
    version: int
    supersedes: str | None
    received_at: datetime
    deadline: datetime
    on_time: bool


class ReportOut(Receipt):
    """A stored report, whole."""

    period_start: date
    period_end: date
    activities: list[Activity]
    note: str | None


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


def receipt_of(event: ReportSubmitted) -> Receipt:
    """An event's receipt, its fields taken as they are: the event was built from checked
    parts, or read from one stored."""
    return Receipt.model_construct(
        report_id=event.report_id, unit=event.unit_code, campaign=event.campaign_code,
        period=event.period, version=event.version, supersedes=event.supersedes,
        received_at=event.received_at, deadline=event.deadline, on_time=event.on_time)


def report_of(event: ReportSubmitted) -> ReportOut:
    return ReportOut(**receipt_of(event).model_dump(), period_start=event.period_start,
                     period_end=event.period_end, activities=event.activities, note=event.note)
