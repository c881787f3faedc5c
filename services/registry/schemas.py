"""Request and response bodies of the registry's HTTP API."""

import unicodedata
from collections import Counter
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.events import (
    CampaignNotifications,
    CredentialScope,
    DeadlineRule,
    KindTargets,
    PeakWindow,
    QuietHours,
    ReportingPeriod,
    UnitKind,
)
from services.events.registry import UtcDatetime
from services.refusals import MAX_LISTED
from services.registry.names import clean, invisible
from services.web.schemas import LocalTime, Province


def _visible(name: str) -> str:
    """Refuse a name that holds a character no one can see (see names.invisible)."""
    hidden = invisible(name)
    if hidden:
        shown = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}"
                          for c in dict.fromkeys(hidden[:5]))
        raise PydanticCustomError("invisible_character", "the name holds characters that "
                                  "cannot be seen ({characters}); type it again without them",
                                  {"characters": shown})
    return name


Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=64)]
Name = Annotated[str, AfterValidator(_visible), AfterValidator(clean),
                 StringConstraints(min_length=1, max_length=200)]
# Who holds a credential, shown beside its token and in the audit trail: refused like a
# name when it hides a character, kept as typed.
Label = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_visible)]
AdminCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z.-]{1,32}$")]

Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ().-]{6,20}$")]
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError("must be an http or https URL") from None
    return value


Url = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_http_url)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contacts(_Body):
    email: EmailStr | None = None
    phone: Phone | None = None
    webhook_url: Url | None = None


class Channels(_Body):
    website: Url | None = None
    facebook: Url | None = None
    zalo: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    youtube: Url | None = None
    tiktok: Url | None = None


def _check_span(active_from: date | None, active_until: date | None) -> None:
    if active_from and active_until and active_until < active_from:
        raise ValueError("active_until must not be before active_from")


class UnitCreate(_Body):
    """A new unit; `code` is made from the name when omitted."""

    code: Code | None = None
    name: Name
    kind: UnitKind
    admin_code: AdminCode | None = None
    parent: Province | None = Field(None, description="Province-level unit it belongs to, "
                                  "by its Decision 19/2025/QĐ-TTg code (31: Hải Phòng).")
    contacts: Contacts = Field(default_factory=Contacts)
    channels: Channels = Field(default_factory=Channels)
    active_from: date | None = None
    active_until: date | None = None

    @model_validator(mode="after")
    def _span(self) -> "UnitCreate":
        _check_span(self.active_from, self.active_until)
        return self


class UnitUpdate(_Body):
    """Fields to change; the code never changes."""

    name: Name | None = None
    kind: UnitKind | None = None
    admin_code: AdminCode | None = None
    parent: Province | None = Field(None, description="Province-level unit it belongs to, "
                                  "by its Decision 19/2025/QĐ-TTg code (31: Hải Phòng).")
    contacts: Contacts | None = None
    channels: Channels | None = None
    active_from: date | None = None
    active_until: date | None = None


class UnitRetire(_Body):
    active_until: date = Field(description="Last day the unit is expected to report.")


class UnitPublic(BaseModel):
    code: str
    name: str
    kind: UnitKind
    admin_code: str | None
    parent: str | None = None
    contacts: Contacts
    channels: Channels
    active_from: date
    active_until: date | None
    revision: int
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ImportProblem(BaseModel):
    line: int = Field(description="Line of the CSV file where the row begins (a quoted cell "
                      "may hold line breaks), the header being line 1.")
    field: str = Field(description="The column at fault; empty on the last entry of a list "
                       "cut short, which counts the problems left off from its line on.")
    reason: str


class ImportReport(BaseModel):
    imported: bool = Field(description="Whether anything was written.")
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[ImportProblem] = Field(default_factory=list, description=f"The first "
                                          f"{MAX_LISTED} problems; a last entry counts any "
                                          "others.")


class UnitImportState(StrEnum):
    """Where an import stands."""

    checking = "checking"
    writing = "writing"
    done = "done"
    refused = "refused"
    failed = "failed"
    interrupted = "interrupted"


class UnitImportProgress(BaseModel):
    rows_checked: int = Field(description="Rows of the file checked so far.")
    rows_total: int | None = Field(description="Rows in the file, once all are checked.")
    rows_to_write: int | None = Field(description="Rows that passed the checks, once all are "
                                      "checked: what the writing goes through.")
    rows_written: int = Field(description="Rows the writing has gone through so far "
                                          "(created, updated, unchanged or refused).")


class UnitImportPublic(BaseModel):
    """An import run as a job: `GET /v1/units/imports/{id}` until its state is final."""

    id: str
    state: UnitImportState = Field(description="`checking` then `writing` while it runs; "
                                   "`done`; `refused` (problems, nothing written); `failed` "
                                   "(see `error`; what was written stays); `interrupted` (the "
                                   "registry stopped meanwhile: import the same file again).")
    good_rows: bool
    active_from: date
    size_bytes: int = Field(description="Size of the file received.")
    progress: UnitImportProgress
    report: ImportReport = Field(description="Counts and problems so far; the final report "
                                 "once the state is no longer `checking` or `writing`.")
    error: str | None = Field(description="Why a failed import stopped.")
    created_at: UtcDatetime
    updated_at: UtcDatetime
    finished_at: UtcDatetime | None


def _valid_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    return zone


class Deadline(DeadlineRule):
    at: LocalTime = Field(time(17, 0), description="Local time of day the report is due, in "
                          "`timezone`: HH:MM or HH:MM:SS, no offset.")
    timezone: Annotated[str, AfterValidator(_valid_zone)] = "Asia/Ho_Chi_Minh"


class Quiet(QuietHours):
    starts: LocalTime = Field(time(21, 0), description="Local time the quiet hours start: "
                              "HH:MM or HH:MM:SS, no offset.")
    ends: LocalTime = Field(time(7, 0), description="Local time they end (the next day when "
                            "before `starts`).")
    timezone: Annotated[str, AfterValidator(_valid_zone)] = "Asia/Ho_Chi_Minh"


class Notifications(CampaignNotifications):
    """Reminder steps, quiet hours, the daily digest and the Department's addresses."""

    quiet_hours: Quiet | None = Field(default_factory=Quiet, description="When nothing goes "
                                      "to a unit; null for none.")
    digest_at: LocalTime = Field(time(8, 0), description="Local time (Hai Phong) of the "
                                 "leadership's daily digest.")
    department_emails: list[EmailStr] = Field(default_factory=list, max_length=20,
                                              description="The Department's addresses: the "
                                              "digest, copies of late reminders.")

    @model_validator(mode="after")
    def _steps_named_once(self) -> "Notifications":
        names = [step.name for step in self.reminders]
        if len(set(names)) != len(names):
            raise ValueError("each reminder step needs a name of its own")
        if len(names) > 10:
            raise ValueError("a campaign has at most 10 reminder steps")
        return self


# A campaign's calendar has bounds a person would never reach and a typo would: every
# service walks a campaign's periods, and a campaign from year 1 to 9999 has half a million.
FIRST_DAY, LAST_DAY, MAX_YEARS = date(2000, 1, 1), date(2099, 12, 31), 5


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class CampaignBody(_Body):
    """A campaign's calendar and targets, as an administrator writes them."""

    name: Annotated[str, AfterValidator(_visible), AfterValidator(clean),
                    StringConstraints(min_length=1, max_length=300)]
    starts_on: date = Field(description="First day; between 2000-01-01 and 2099-12-31.")
    ends_on: date = Field(description="Last day (inclusive): not before starts_on, at most "
                          "five years after it, and no later than 2099-12-31.")
    peak_windows: list[PeakWindow] = Field(default_factory=list)
    reporting_period: ReportingPeriod = ReportingPeriod.iso_week
    closes_on: date | None = None
    deadline: Deadline = Field(default_factory=Deadline)
    targets: dict[UnitKind, KindTargets]
    notifications: Notifications = Field(default_factory=Notifications)

    @model_validator(mode="after")
    def _calendar(self) -> "CampaignBody":
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        if not (FIRST_DAY <= self.starts_on and self.ends_on <= LAST_DAY):
            raise ValueError(f"a campaign's days must lie between {FIRST_DAY} and {LAST_DAY}")
        if self.ends_on > _years_after(self.starts_on, MAX_YEARS):
            raise ValueError(f"a campaign lasts at most {MAX_YEARS} years from starts_on")
        for window in self.peak_windows:
            if window.ends_on < window.starts_on:
                raise ValueError("a peak window must not end before it starts")
            if window.starts_on < self.starts_on or window.ends_on > self.ends_on:
                raise ValueError("a peak window must lie inside the campaign")
        return self


class CampaignCreate(CampaignBody):
    code: Code


class CampaignPublic(CampaignCreate):
    revision: int
    created_at: UtcDatetime
    updated_at: UtcDatetime


class PeriodPublic(BaseModel):
    """One reporting period of a campaign."""

    period: str = Field(description="`2026-W04` (ISO week) or `2026-01` (month).")
    starts_on: date = Field(description="Its first day.")
    ends_on: date = Field(description="Its last day.")
    deadline: UtcDatetime = Field(description="When its report is due.")
    current: bool = Field(description="Today (in Hai Phong) falls in it.")
    due: bool = Field(description="Its deadline has passed.")


class CampaignPeriodsPublic(BaseModel):
    """A campaign's reporting periods, in order, with the current one."""

    campaign: str
    reporting_period: ReportingPeriod
    current: str | None = Field(description="The period today falls in; null before the "
                                "campaign starts and after it ends.")
    closes_on: date | None = Field(description="Last day reports are accepted, if set.")
    items: list[PeriodPublic]


class CredentialCreate(_Body):
    scope: CredentialScope
    unit_code: Code | None = Field(None, description="Required for `unit`, absent otherwise.")
    label: Label

    @model_validator(mode="after")
    def _unit_matches_scope(self) -> "CredentialCreate":
        if (self.scope is CredentialScope.unit) != (self.unit_code is not None):
            raise ValueError("unit_code is required for scope `unit` and only for it")
        return self


MAX_BATCH_CREDENTIALS = 10_000  # twice the units of a national deployment's largest province


def _each_once(codes: list[str]) -> list[str]:
    twice = [code for code, n in Counter(codes).items() if n > 1]
    if twice:
        raise PydanticCustomError("duplicate_unit", "each unit may be named once; named "
                                  "again: {codes}", {"codes": ", ".join(twice[:5])})
    return codes


class CredentialBatchCreate(_Body):
    """Unit tokens for many units at once (handing them out for a campaign)."""

    unit_codes: Annotated[list[Code], Field(min_length=1, max_length=MAX_BATCH_CREDENTIALS),
                          AfterValidator(_each_once)] = Field(
        description=f"The units, each once; at most {MAX_BATCH_CREDENTIALS:,}.")
    label: Label
    replace: bool = Field(False, description="Revoke the units' earlier unit tokens in the "
                          "same transaction (a new hand-out replaces the old one).")


class CredentialPublic(BaseModel):
    id: str
    scope: CredentialScope
    unit_code: str | None
    label: str
    token_prefix: str
    issued_at: UtcDatetime
    revoked_at: UtcDatetime | None


class CallerPublic(BaseModel):
    """Who a token belongs to (for a client signing a person in)."""

    scope: str = Field(description="`admin`, `leadership` or `unit`.")
    unit_code: str | None = Field(description="The unit a `unit` token acts for.")
    unit_name: str | None = Field(description="Its name.")
    unit_kind: UnitKind | None = Field(description="Its kind.")
    credential_id: str | None = Field(description="The credential; null for the "
                                      "administrator's token.")
    label: str | None = Field(description="Who or what holds the credential.")


class WebhookSecret(BaseModel):
    """A unit's webhook secret, to verify the notifier's deliveries (Standard Webhooks 1.0)."""

    unit: str
    secret: str = Field(description="`whsec_` then the base64 of the 32 key bytes: the "
                        "secret a Standard Webhooks library takes.")
    generation: int = Field(description="Moves on with each rotation; the older secret "
                            "stops verifying once the notifier has the new one (seconds).")
    signature_header: str = Field("webhook-signature", description="`v1,<base64 HMAC-SHA256 "
                                  "of webhook-id.webhook-timestamp.body>`.")


class CredentialIssued(CredentialPublic):
    token: str = Field(description="The bearer token. Shown once; only its hash is kept. It "
                       "works at every service as soon as this answer has come: for its first "
                       "minute, a service that has not read it from the registry yet waits "
                       "for it (up to 5 s) instead of refusing it.")


class CredentialsIssued(BaseModel):
    """Tokens issued at once; each shown only in this answer."""

    items: list[CredentialIssued]
    total: int
    revoked: int = Field(description="Earlier unit tokens revoked (`replace`).")


def as_dict(model: BaseModel | None) -> dict[str, Any]:
    return model.model_dump(mode="json") if model is not None else {}


class AuditEntity(StrEnum):
    """What an audit entry is about."""

    unit = "unit"
    campaign = "campaign"
    credential = "credential"
    report = "report"


class AuditActorPublic(BaseModel):
    """Who made a change."""

    id: str = Field(description="`admin` (the registry's admin token), `system` (the "
                    "registry itself, e.g. seeding campaigns at start) or a credential id.")
    scope: str | None = Field(description="The credential's scope (`admin` for the admin "
                              "token).")
    label: str | None = Field(description="Who holds the credential, as the registry names "
                              "them.")


class AuditEntryPublic(BaseModel):
    """One change in the registry, or a report entered on a unit's behalf."""

    id: int = Field(description="Order of recording; a later entry has a larger id.")
    at: UtcDatetime = Field(description="When the change was made (UTC); for a report "
                            "entered on a unit's behalf, when the Department entered it.")
    actor: AuditActorPublic
    entity: AuditEntity
    entity_id: str = Field(description="The unit's or campaign's code, the credential's id, "
                           "or for a report `campaign/period/unit`.")
    action: str = Field(description="`created`, `updated`, `retired`, `deleted`, "
                        "`secret_rotated`, `imported`, `issued`, `revoked` or "
                        "`entered_on_behalf`.")
    changes: dict[str, Any] = Field(description="For an update, each changed field as "
                                    "`{before, after}`; for a creation, the values. Tokens, "
                                    "secrets and their hashes never appear.")
    request_id: str | None = Field(description="The HTTP request's `X-Request-Id`, to find "
                                   "it in the logs.")
    note: str | None = Field(description="For a report entered on a unit's behalf, how it "
                             "reached the Department; for an import, the import's id.")
