"""Request and response bodies of the reporting HTTP API."""

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from services.events import Activity, ReportSubmitted
from services.events.registry import UtcDatetime
from services.events.reports import EnteredBy
from services.refusals import MAX_LISTED, MORE_PROBLEMS
from services.web.schemas import local_in_utc, without_controls

ReportId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


def _stated(value: datetime | date) -> datetime:
    """A stated reception as a UTC moment: a date alone is its first moment (Hai Phong
    time), a time as services.web.schemas.local_in_utc reads it."""
    return local_in_utc(value if isinstance(value, datetime) else datetime.combine(value, time()))


StatedMoment = Annotated[datetime | date, AfterValidator(_stated)]


class ReportIn(BaseModel):
    """A unit's report for one period of a campaign."""

    model_config = ConfigDict(extra="forbid")

    report_id: ReportId | None = Field(None, description="Client-chosen id, the unit's own "
                                       "(another unit may choose the same one): sending the "
                                       "same report again with it returns the first receipt.")
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
    received_at: UtcDatetime
    deadline: UtcDatetime
    on_time: bool = Field(description="The period is on time: the unit's first report for it "
                          "arrived by the deadline (a late correction keeps it on time).")
    first_received_at: UtcDatetime | None = Field(
        None, description="When the unit's first report for the period arrived; null only "
        "for reports stored before it was kept.")
    entered_by: EnteredBy | None = Field(
        None, description="Who entered the report on the unit's behalf (received on paper "
        "or by email), with their note; `received_at` is then the time they stated. Null "
        "for a report the unit sent itself.")


class ReportOut(Receipt):
    """A stored report, whole."""

    period_start: date
    period_end: date
    activities: list[Activity]
    note: str | None


class ReportOnBehalfIn(BaseModel):
    """A unit's report that reached the Department on paper or by email, entered by its
    staff: the report's fields, the unit, when it was received and how."""

    model_config = ConfigDict(extra="forbid")

    report_id: ReportId | None = Field(None, description="Client-chosen id, as for the "
                                       "unit's own reports.")
    unit: str = Field(max_length=64, description="Code of the unit whose report this is.")
    campaign: str = Field(max_length=64, description="Campaign code, e.g. dai-hoi-xiv.")
    period: str = Field(max_length=16, description="Period, e.g. 2026-W04 (ISO week).")
    activities: list[Activity] = Field(max_length=500, description="What was done.")
    report_note: Annotated[str, StringConstraints(max_length=4000),
                           AfterValidator(without_controls)] | None = Field(
        None, description="Free text the unit wrote in its report (no control characters but "
        "tab and line ends).")
    received_at: StatedMoment = Field(
        description="When the report reached the Department: a date (its first moment) or a "
        "date and time; Hai Phong time unless it names an offset. Not in the future, not "
        "before the period began; timeliness is judged by it. Held in UTC: one that "
        "UTC cannot hold (year 1, year 9999) is refused (`datetime_out_of_range`).")
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                    AfterValidator(without_controls)] = Field(
        description="How it arrived, e.g. `Nhận bản giấy ngày 09/02, công văn số 12/UBND` "
        "(no control characters but tab and line ends).")

    def received(self) -> datetime:
        """When it reached the Department, in UTC (StatedMoment made a date one)."""
        assert isinstance(self.received_at, datetime)
        return self.received_at

    def report(self) -> ReportIn:
        """The report itself, as the unit would have sent it."""
        return ReportIn(report_id=self.report_id, unit=self.unit, campaign=self.campaign,
                        period=self.period, activities=self.activities, note=self.report_note)


class RowProblem(BaseModel):
    field: str = Field(description="The column (or report field) at fault; empty for the "
                       "whole period.")
    rule: str = Field(description="The rule broken, a stable code.")
    message: str
    column: str = Field("", description="The column's Vietnamese header, as the template "
                        "shows it; empty when the problem is not one column's.")
    column_code: str = Field("", description="The column's code (the template's second "
                             "header row); empty when the problem is not one column's.")
    explanation: str = Field("", description="The line, the column and the rule in words, "
                             "Vietnamese first, English beside.")


class RowResult(BaseModel):
    """What became of one row of a bulk file."""

    line: int = Field(description="The row number a person sees in a spreadsheet, header "
                      "rows counted: the sheet's row, or the CSV file's record (the first "
                      "being 1; a quoted cell's line breaks do not count).")
    period: str
    status: Literal["accepted", "replayed", "rejected"]
    report_id: str | None = None
    errors: list[RowProblem] = Field(default_factory=list, description=f"The row's problems. "
                                     f"A file's first {MAX_LISTED} are listed; the row of the "
                                     f"first one left off ends with `{MORE_PROBLEMS}`, "
                                     "counting the rest, and later rows list none.")


class BulkResult(BaseModel):
    """A bulk file's outcome: reports (periods) accepted, replayed and rejected, and each row."""

    accepted: int
    replayed: int
    rejected: int
    rows: list[RowResult]


def receipt_of(event: ReportSubmitted) -> Receipt:
    """An event's receipt, its fields taken as they are: the event was built from checked
    parts, or read from one stored."""
    return Receipt.model_construct(
        report_id=event.report_id, unit=event.unit_code, campaign=event.campaign_code,
        period=event.period, version=event.version, supersedes=event.supersedes,
        received_at=event.received_at, deadline=event.deadline, on_time=event.on_time,
        first_received_at=event.first_received_at, entered_by=event.entered_by)


def report_of(event: ReportSubmitted) -> ReportOut:
    """A stored event as the API shows it."""
    return ReportOut(**receipt_of(event).model_dump(), period_start=event.period_start,
                     period_end=event.period_end, activities=event.activities, note=event.note)
