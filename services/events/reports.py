"""Reports accepted at intake (version 1)."""

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from services.events.registry import UtcDatetime
from services.events.vocabulary import Language, Platform


class Channel(StrEnum):
    """Where an article ran."""

    press = "press"
    portal = "portal"
    website = "website"
    radio = "radio"
    tv = "tv"


class _Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=0, le=1_000_000, description="How many.")
    evidence_urls: list[HttpUrl] = Field(default_factory=list, max_length=50,
                                         description="Links that show the work.")


class Banner(_Line):
    """A banner hung on the unit's portal or website."""

    kind: Literal["banner"] = "banner"


class PortalColumn(_Line):
    """A dedicated column opened on a portal or website."""

    kind: Literal["portal_column"] = "portal_column"


class DocumentPublication(_Line):
    """Draft Congress documents published."""

    kind: Literal["document_publication"] = "document_publication"


class MultimediaProduct(_Line):
    """A multimedia product on a digital platform."""

    kind: Literal["multimedia_product"] = "multimedia_product"


class Article(_Line):
    """News items and articles."""

    kind: Literal["article"] = "article"
    channel: Channel = Field(description="Where it ran: press, portal, website, radio, tv.")


class SocialPost(_Line):
    """Posts on a social network."""

    kind: Literal["social_post"] = "social_post"
    platform: Platform = Field(description="facebook, zalo, youtube, tiktok or other.")
    format: Literal["news", "article", "infographic", "video"] = Field(
        description="Form of the posts.")


class ForeignLanguageItem(_Line):
    """Foreign-language programmes, bulletins and articles."""

    kind: Literal["foreign_language_item"] = "foreign_language_item"
    language: Language = Field(description="en, zh, ja or ko.")
    format: Literal["programme", "bulletin", "article"] = Field(description="Form of the item.")


class LoudspeakerBroadcast(_Line):
    """Broadcasts on the grassroots loudspeaker system, counted per day."""

    kind: Literal["loudspeaker_broadcast"] = "loudspeaker_broadcast"
    count: int = Field(0, ge=0, le=1_000_000, description="Sum of `daily_counts` (filled in "
                       "when omitted).")
    daily_counts: dict[date, Annotated[int, Field(ge=0, le=100)]] = Field(
        min_length=1, description="Broadcasts per day; every day inside the period.")

    @model_validator(mode="before")
    @classmethod
    def _count_is_the_sum(cls, data: object) -> object:
        if isinstance(data, dict) and "count" not in data and isinstance(
                data.get("daily_counts"), dict):
            values = data["daily_counts"].values()
            if all(isinstance(v, int) for v in values):
                return data | {"count": sum(values)}
        return data

    @model_validator(mode="after")
    def _sum_matches(self) -> "LoudspeakerBroadcast":
        if sum(self.daily_counts.values()) != self.count:
            raise ValueError("count must equal the sum of daily_counts")
        return self


class Mobilisation(_Line):
    """Cadres and employees mobilised to share campaign content."""

    kind: Literal["mobilisation"] = "mobilisation"
    people_mobilised: int = Field(ge=0, le=10_000_000, description="People who shared.")
    shares: int = Field(ge=0, le=100_000_000, description="Shares made.")


Activity = Annotated[
    Banner | PortalColumn | DocumentPublication | MultimediaProduct | Article | SocialPost
    | ForeignLanguageItem | LoudspeakerBroadcast | Mobilisation,
    Field(discriminator="kind"),
]


class EnteredBy(BaseModel):
    """Who entered a report on its unit's behalf (received on paper or by email)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credential_id: str = Field(description="The Department credential that entered it.")
    label: str = Field(description="Its holder, as the registry names them.")
    note: str = Field(description="How and when the report reached the Department, e.g. "
                      "`Công văn số 12/UBND, nhận ngày 09/02/2026`.")
    entered_at: UtcDatetime = Field(description="When the Department entered it (UTC); "
                                    "`received_at` is when it says the report arrived.")


class ReportSubmitted(BaseModel):
    """A report accepted at intake, whole. Key: `unit_code` (a unit's reports stay in order)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    report_id: str = Field(description="Id of this report (client-chosen or generated).")
    unit_code: str = Field(description="The reporting unit; the message key.")
    unit_kind: str = Field(description="The unit's kind when it reported.")
    campaign_code: str = Field(description="The campaign reported on.")
    period: str = Field(description="The reporting period, e.g. `2026-W04` or `2026-01`.")
    period_start: date = Field(description="First day of the period.")
    period_end: date = Field(description="Last day of the period (inclusive).")
    version: int = Field(ge=1, description="1 for the first report of this unit and period, "
                         "then 2, 3... for each revision.")
    supersedes: str | None = Field(None, description="The report id this revision replaces.")
    received_at: UtcDatetime = Field(description="When intake accepted it (UTC).")
    deadline: UtcDatetime = Field(description="The period's deadline (UTC).")
    on_time: bool = Field(description="The period counts as on time: the unit's first report "
                          "for it was received at or before the deadline (a late correction "
                          "of an on-time report stays on time).")
    first_received_at: UtcDatetime | None = Field(
        None, description="When the unit's first report for this period was received (UTC); "
        "equals `received_at` for version 1. Absent from messages written before it existed.")
    activities: list[Activity] = Field(description="What the unit did in the period.")
    note: str | None = Field(None, description="Free text from the unit.")
    entered_by: EnteredBy | None = Field(
        None, description="Set when the Department entered the report on the unit's behalf; "
        "`received_at` is then the time the Department states it received it. Null (or "
        "absent) for a report the unit sent itself.")
