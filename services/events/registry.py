"""Snapshots the registry publishes to its compacted topics (version 1)."""

from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.events.vocabulary import (
    ActivityKind,
    CredentialScope,
    Language,
    ReportingPeriod,
    UnitKind,
)


def as_utc(moment: datetime) -> datetime:
    """Naive timestamps are UTC (some databases drop the zone); always send them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitContacts(_Event):
    """How to reach a unit."""

    email: str | None = Field(None, description="Address for receipts and reminders.")
    phone: str | None = Field(None, description="Telephone number of the reporting officer.")
    webhook_url: str | None = Field(None, description="HTTP endpoint for machine notifications.")


class UnitChannels(_Event):
    """A unit's own communication channels."""

    website: str | None = Field(None, description="Website or e-portal URL.")
    facebook: str | None = Field(None, description="Facebook page URL.")
    zalo: str | None = Field(None, description="Zalo official account URL or id.")
    youtube: str | None = Field(None, description="YouTube channel URL.")
    tiktok: str | None = Field(None, description="TikTok account URL.")


class UnitSnapshot(_Event):
    """A reporting unit as it stands after its latest change. Key: `code`."""

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    code: str = Field(description="Stable unique code of the unit; the message key.")
    name: str = Field(description="Vietnamese name, Unicode NFC.")
    kind: UnitKind = Field(description="Kind of unit; wards, communes, special zones "
                           "are commune-level.")
    admin_code: str | None = Field(None, description="Official administrative code, "
                                   "when an operator supplied it.")
    parent: str | None = Field(None, description="The province-level unit the unit belongs "
                               "to, by its Decision 19/2025/QĐ-TTg code (31: Hải Phòng); "
                               "null when not given. Feeds filter and roll up by it.")
    contacts: UnitContacts = Field(description="How to reach the unit.")
    channels: UnitChannels = Field(description="The unit's own channels.")
    active_from: date = Field(description="First day the unit is expected to report.")
    active_until: date | None = Field(None, description="Last day the unit is expected to "
                                      "report (set when retired); null while active.")
    webhook_secret_generation: int = Field(1, ge=1, description="Generation of the unit's "
                                           "webhook secret, which derives from it and the "
                                           "deployment's key; moves on when rotated.")
    revision: int = Field(description="Increases with every change; consumers keep the highest.")
    updated_at: UtcDatetime = Field(description="When the change was committed (UTC).")


class PeakWindow(_Event):
    """Dates (inclusive) when the daily loudspeaker target applies."""

    starts_on: date = Field(description="First day of the window.")
    ends_on: date = Field(description="Last day of the window (inclusive).")


class DeadlineRule(_Event):
    """When a period's report is due, counted from the day after the period ends."""

    days_after_period_end: int = Field(1, ge=0, le=31, description="Days after the period's "
                                       "last day (1 = the following Monday for ISO weeks).")
    at: time = Field(time(17, 0), description="Local time of day the report is due.")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="IANA zone of `at`.")


class KindTargets(_Event):
    """What a campaign expects from one kind of unit."""

    reports_each_period: bool = Field(True, description="Expected to send one report per "
                                      "period by its deadline.")
    loudspeaker_per_week: int | None = Field(None, ge=0, description="Minimum loudspeaker "
                                             "broadcasts per week.")
    loudspeaker_per_peak_day: int | None = Field(None, ge=0, description="Minimum broadcasts "
                                                 "per day inside a peak window.")
    campaign_minimums: dict[ActivityKind, int] = Field(
        default_factory=dict, description="Minimum count of each activity kind over the campaign.")
    languages: list[Language] = Field(default_factory=list, description="Foreign languages "
                                      "each unit of this kind must cover during the campaign.")


class ReminderStep(_Event):
    """One deadline reminder, placed against each period's deadline."""

    name: str = Field(pattern=r"^[a-z0-9-]{1,32}$", description="Stable name, part of each "
                      "reminder's key, e.g. `before-48h`.")
    hours_from_deadline: int = Field(ge=-24 * 31, le=24 * 31, description="Negative before "
                                     "the deadline, positive after it.")
    copy_department: bool = Field(False, description="Copy the Department's addresses.")


class QuietHours(_Event):
    """Hours in which nothing goes to a unit; what falls due then goes when they end."""

    starts: time = Field(time(21, 0), description="Local time the quiet hours start.")
    ends: time = Field(time(7, 0), description="Local time they end (may be the next day).")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="IANA zone of both times.")


DEFAULT_REMINDERS = (
    ReminderStep(name="before-48h", hours_from_deadline=-48),
    ReminderStep(name="before-2h", hours_from_deadline=-2),
    ReminderStep(name="after-24h", hours_from_deadline=24, copy_department=True),
)


class CampaignNotifications(_Event):
    """Who hears what and when: the campaign's reminder steps, quiet hours, the leadership's
    daily digest and the Department's addresses."""

    reminders: list[ReminderStep] = Field(default_factory=lambda: list(DEFAULT_REMINDERS),
                                          description="Reminder steps of every period.")
    quiet_hours: QuietHours | None = Field(default_factory=QuietHours, description="When "
                                           "nothing goes to a unit; null for none.")
    digest_at: time = Field(time(8, 0), description="Local time (Hai Phong) of the "
                            "leadership's daily digest.")
    department_emails: list[str] = Field(default_factory=list, description="The Department's "
                                         "addresses: the digest, copies of late reminders. "
                                         "Empty: the notifier's configured addresses.")


class CampaignSnapshot(_Event):
    """A campaign as it stands after its latest change. Key: `code`."""

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    code: str = Field(description="Stable unique code, e.g. `dai-hoi-xiv`; the message key.")
    name: str = Field(description="Vietnamese title of the campaign.")
    starts_on: date = Field(description="First day of the campaign.")
    ends_on: date = Field(description="Last day of the campaign (inclusive).")
    peak_windows: list[PeakWindow] = Field(description="Peak windows inside the campaign.")
    reporting_period: ReportingPeriod = Field(description="How time is cut into periods.")
    closes_on: date | None = Field(None, description="Last day reports are accepted; null "
                                   "while the campaign accepts reports (late ones included).")
    deadline: DeadlineRule = Field(description="When each period's report is due.")
    targets: dict[UnitKind, KindTargets] = Field(description="Targets per unit kind; a kind "
                                                 "absent here is not expected to report.")
    notifications: CampaignNotifications = Field(
        default_factory=CampaignNotifications, description="Reminders, quiet hours and the "
        "daily digest; absent in messages from before it existed (the defaults).")
    revision: int = Field(description="Increases with every change; consumers keep the highest.")
    updated_at: UtcDatetime = Field(description="When the change was committed (UTC).")


class CredentialSnapshot(_Event):
    """A credential's state. Key: `id`. The token is never published, only its hash."""

    schema_version: Literal[1] = Field(1, description="Version of this message's schema.")
    id: str = Field(description="Credential id; the message key.")
    scope: CredentialScope = Field(description="`unit` submits for one unit; `leadership` "
                                   "reads every feed.")
    unit_code: str | None = Field(None, description="The unit a `unit` credential acts for.")
    token_sha256: str = Field(description="Hex SHA-256 of the bearer token.")
    label: str = Field(description="Who or what holds the credential.")
    issued_at: UtcDatetime = Field(description="When it was issued (UTC).")
    revoked_at: UtcDatetime | None = Field(None, description="When it was revoked; "
                                           "null while valid.")
