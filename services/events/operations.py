"""Messages about the pipeline itself (version 1)."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.events.registry import UtcDatetime


class DeadLetter(BaseModel):
    """A message a consumer could not process, kept with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    consumer: str = Field(description="The consumer group that gave up on the message.")
    topic: str = Field(description="Where the message came from.")
    partition: int = Field(description="Its partition.")
    offset: int = Field(description="Its offset.")
    key: str | None = Field(None, description="Its key, as text.")
    value: str | None = Field(None, description="Its value, as text (undecodable bytes "
                              "replaced).")
    error: str = Field(description="Why it could not be processed.")
    failed_at: UtcDatetime = Field(description="When (UTC).")


class KindProgress(BaseModel):
    """Completeness and timeliness of one scope (the city or a unit kind) for a period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expected: int = Field(description="Units expected to report.")
    reported: int = Field(description="Units that reported.")
    on_time: int = Field(description="Units that reported by the deadline.")
    completeness: float | None = Field(description="reported / expected; null when none "
                                       "is expected.")
    timeliness: float | None = Field(description="on_time / expected.")


class ProgressChanged(BaseModel):
    """A period's progress after reports changed it. Key: `campaign:period`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    campaign: str = Field(description="Campaign code.")
    period: str = Field(description="The period whose figures changed.")
    units: list[str] = Field(description="Units whose standing report changed.")
    report_ids: list[str] = Field(description="The report versions that were applied.")
    city: KindProgress = Field(description="City-wide figures after the change.")
    by_unit_kind: dict[str, KindProgress] = Field(description="Figures per unit kind.")
    changed_at: UtcDatetime = Field(description="When the aggregates changed (UTC).")


class BreachDetected(BaseModel):
    """A unit broke a campaign rule; published once per breach. Key: `unit_code`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    breach_id: str = Field(description="Stable id: campaign, rule, unit and period or day.")
    campaign: str = Field(description="Campaign code.")
    rule: Literal["report_missing", "loudspeaker_weekly", "loudspeaker_peak_day"] = Field(
        description="report_missing: no report by the period's deadline; loudspeaker_weekly: "
        "fewer broadcasts in a week than the weekly target; loudspeaker_peak_day: fewer on a "
        "peak-window day than the daily target.")
    unit_code: str = Field(description="The unit; the message key.")
    unit_name: str = Field(description="Its Vietnamese name.")
    unit_kind: str = Field(description="Its kind.")
    period: str = Field(description="The period (for a week rule, the ISO week).")
    day: date | None = Field(None, description="The peak day, for loudspeaker_peak_day.")
    broadcasts: int | None = Field(None, description="Broadcasts counted, for loudspeaker "
                                   "rules.")
    target: int | None = Field(None, description="The target they fell short of.")
    deadline: UtcDatetime = Field(description="The period's report deadline (UTC).")
    detected_at: UtcDatetime = Field(description="When the aggregator found it (UTC).")
