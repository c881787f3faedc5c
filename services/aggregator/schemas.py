"""What the aggregator's feeds send over HTTP, typed: the OpenAPI document is their contract."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.events import UnitKind
from services.events.registry import UtcDatetime
from services.web.schemas import CursorPage


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class RatioPublic(_Public):
    """Completeness and timeliness of one scope (the city or one unit kind) for a period."""

    expected: int = Field(description="Units expected to report: active in the period and of "
                          "a kind the campaign expects reports from.")
    reported: int = Field(description="Expected units whose report for the period is in.")
    on_time: int = Field(description="Expected units whose first report for the period "
                         "arrived at or before its deadline (a later revision keeps it so).")
    completeness: float | None = Field(description="reported / expected, to 4 places; null "
                                       "when no unit is expected.")
    timeliness: float | None = Field(description="on_time / expected, to 4 places; null when "
                                     "no unit is expected.")


class TotalsPublic(_Public):
    """What the standing reports count, by activity kind and by detail."""

    by_activity_kind: dict[str, int] = Field(description="Count per activity kind, e.g. "
                                             "`social_post`.")
    by_platform: dict[str, int] = Field(description="Count per `kind:platform`, e.g. "
                                        "`social_post:zalo`.")
    by_format: dict[str, int] = Field(description="Count per `kind:format`, e.g. "
                                      "`foreign_language_item:bulletin`.")
    by_language: dict[str, int] = Field(description="Count per `kind:language`, e.g. "
                                        "`foreign_language_item:ja`.")
    by_channel: dict[str, int] = Field(description="Count per `kind:channel`, e.g. "
                                       "`article:press`.")
    people_mobilised: int = Field(description="Cadres and employees mobilised to share.")
    shares: int = Field(description="Shares they made.")


class PlatformCoverage(_Public):
    """Whether anything was posted on each of the four platforms."""

    facebook: bool = Field(description="At least one item on Facebook.")
    zalo: bool = Field(description="At least one item on Zalo.")
    youtube: bool = Field(description="At least one item on YouTube.")
    tiktok: bool = Field(description="At least one item on TikTok.")


class LanguageCoverage(_Public):
    """Whether anything came out in each of the four foreign languages."""

    en: bool = Field(description="At least one item in English.")
    zh: bool = Field(description="At least one item in Chinese.")
    ja: bool = Field(description="At least one item in Japanese.")
    ko: bool = Field(description="At least one item in Korean.")


class CoveragePublic(_Public):
    """Which platforms and languages one scope (the city or a unit kind) covered."""

    platforms: PlatformCoverage = Field(description="Facebook, Zalo, YouTube, TikTok.")
    languages: LanguageCoverage = Field(description="English, Chinese, Japanese, Korean.")


class WeekBelowPublic(_Public):
    """An ISO week with fewer loudspeaker broadcasts than the weekly target."""

    week: str = Field(description="The ISO week, e.g. `2026-W04`.")
    broadcasts: int = Field(description="Broadcasts reported in that week.")
    target: int = Field(description="The weekly target of the unit's kind.")


class DayBelowPublic(_Public):
    """A peak-window day with fewer loudspeaker broadcasts than the daily target."""

    day: date = Field(description="The day (local date).")
    broadcasts: int = Field(description="Broadcasts reported on that day.")
    target: int = Field(description="The peak-day target of the unit's kind.")


class FailingUnitPublic(_Public):
    """A commune-level unit that reported, below a loudspeaker target."""

    code: str = Field(description="The unit's code.")
    name: str = Field(description="Its Vietnamese name.")
    kind: str = Field(description="Its kind: ward, commune or special_zone.")
    weeks_below: list[WeekBelowPublic] = Field(description="Whole weeks below the weekly "
                                               "target, days still to come not counted.")
    days_below: list[DayBelowPublic] = Field(description="Peak-window days below the daily "
                                             "target, up to today.")


class LoudspeakerPublic(_Public):
    """Loudspeaker duty of the commune-level units that reported for the period. A unit that
    did not report is counted as missing, never as below target. The units themselves, with
    their weeks and days: `/v1/progress/below-target`."""

    units_checked: int = Field(description="Expected commune-level units that reported, and "
                               "so were judged.")
    units_failing: int = Field(description="Of those, units below any target.")
    units_below_weekly: int = Field(description="Units below the weekly target in a week.")
    units_below_daily: int = Field(description="Units below the daily target on a peak day.")


class ProgressPublic(_Public):
    """The summary of one period of a campaign: small, whatever the number of units; the
    lists are paged feeds of their own (`/missing`, `/below-target`, `/units`)."""

    campaign: str = Field(description="Campaign code.")
    period: str = Field(description="The period, e.g. `2026-W04`.")
    period_start: date = Field(description="First day of the period.")
    period_end: date = Field(description="Last day of the period (inclusive).")
    deadline: UtcDatetime = Field(description="When the period's report is due (UTC).")
    unit_kind: UnitKind | None = Field(description="The unit kind the feed is narrowed to; "
                                       "null for all kinds.")
    parent: str | None = Field(None, description="The parent (a province code of Decision "
                               "19/2025/QĐ-TTg) the feed is narrowed to; null for all.")
    city: RatioPublic = Field(description="City-wide completeness and timeliness (of the "
                              "parent's units, when narrowed to one).")
    by_unit_kind: dict[str, RatioPublic] = Field(description="The same, per unit kind.")
    missing: int = Field(description="Expected units that have not reported.")
    totals: TotalsPublic = Field(description="What the standing reports count.")
    coverage: dict[str, CoveragePublic] = Field(description="Platform and language coverage: "
                                                "`city`, then each unit kind that posted.")
    loudspeaker: LoudspeakerPublic = Field(description="Loudspeaker compliance of the "
                                           "commune-level units that reported (counts).")


class MissingUnitPublic(_Public):
    """A unit expected to report for the period whose report is not in."""

    code: str = Field(description="The unit's code.")
    name: str = Field(description="Its Vietnamese name.")
    kind: str = Field(description="Its kind.")
    parent: str | None = Field(None, description="Its parent's province code; null: none.")


class UnitRefPublic(_Public):
    """A unit, as the feeds name it."""

    code: str = Field(description="The unit's code.")
    name: str = Field(description="Its Vietnamese name.")
    kind: str = Field(description="Its kind.")


class UnitPeriodPublic(_Public):
    """A unit's standing report for one period."""

    period: str = Field(description="The period, e.g. `2026-W04`.")
    report_id: str = Field(description="Id of the standing (highest) version.")
    version: int = Field(description="Its version: 1, then 2, 3... for revisions.")
    on_time: bool = Field(description="The unit's first report for the period arrived at or "
                          "before the deadline.")
    received_at: UtcDatetime = Field(description="When the standing version was received "
                                     "(UTC): for one entered on the unit's behalf, when the "
                                     "Department says it received it.")
    entered_by: str | None = Field(None, description="Who entered the standing version on "
                                   "the unit's behalf (received on paper or by email); null "
                                   "when the unit sent it itself.")
    totals: TotalsPublic = Field(description="What the standing version counts.")


class UnitProgressPublic(_Public):
    """One unit over a campaign: each period's standing report and the totals."""

    unit: UnitRefPublic = Field(description="The unit.")
    campaign: str = Field(description="Campaign code.")
    periods: list[UnitPeriodPublic] = Field(description="Periods it reported for, in order.")
    totals: TotalsPublic = Field(description="What it counted over the campaign.")
    coverage: CoveragePublic = Field(description="Platforms and languages it covered.")

class UnitRowPublic(_Public):
    """One expected unit's line of the period table."""

    code: str = Field(description="The unit's code.")
    name: str = Field(description="Its Vietnamese name.")
    kind: str = Field(description="Its kind.")
    parent: str | None = Field(None, description="Its parent's province code; null: none.")
    reported: bool = Field(description="Its report for the period is in.")
    on_time: bool = Field(description="Its first report arrived by the deadline.")
    version: int | None = Field(description="The standing version; null: no report.")
    entered_by: str | None = Field(None, description="Who entered the standing version on "
                                   "the unit's behalf; null when the unit sent it itself.")
    activities: dict[str, int] = Field(description="Count per activity kind, every kind.")
    loudspeaker_total: int | None = Field(description="Broadcasts over the period; null for a "
                                          "unit without the loudspeaker duty.")
    peak_day_least: int | None = Field(None, description="The fewest broadcasts on a peak day "
                                       "of the period so far (a day not reported counts 0); "
                                       "null without the duty or without a peak day yet.")
    platforms: list[str] = Field(default_factory=list, description="The platforms its "
                                 "report posted on, by name.")
    languages: list[str] = Field(default_factory=list, description="The foreign languages its "
                                 "report covered, by code.")


class ParentProgressPublic(_Public):
    """One parent's figures for a period: the roll-up's line."""

    parent: str | None = Field(description="The province code (Decision 19/2025/QĐ-TTg); "
                               "null for the units that name no parent.")
    name: str | None = Field(description="The province's Vietnamese name.")
    all: RatioPublic = Field(description="Completeness and timeliness of its units.")
    by_unit_kind: dict[str, RatioPublic] = Field(description="The same, per unit kind.")
    units_failing: int = Field(description="Its commune-level units that reported and are "
                               "below a loudspeaker target.")


class OverviewPeriodPublic(_Public):
    """One period's figures in a campaign's overview."""

    period: str = Field(description="The period, e.g. `2026-W04`.")
    period_start: date = Field(description="First day of the period.")
    period_end: date = Field(description="Last day of the period (inclusive).")
    deadline: UtcDatetime = Field(description="When the period's report is due (UTC).")
    state: Literal["upcoming", "open", "due"] = Field(description="`upcoming`: it has not "
                                                      "started; `open`: started, its deadline "
                                                      "not passed; `due`: its deadline passed.")
    city: RatioPublic = Field(description="Completeness and timeliness over every expected "
                              "unit kind (of the parent's units, when narrowed to one).")
    by_unit_kind: dict[str, RatioPublic] = Field(description="The same, per unit kind.")
    missing: int = Field(description="Expected units that have not reported.")
    loudspeaker: LoudspeakerPublic = Field(description="Loudspeaker compliance (counts).")


class OverviewPublic(_Public):
    """Every period of a campaign in one answer, for its trend: small, whatever the number
    of units (each period's figures are kept by the fold)."""

    campaign: str = Field(description="Campaign code.")
    unit_kind: UnitKind | None = Field(description="The unit kind the feed is narrowed to; "
                                       "null for all kinds.")
    parent: str | None = Field(description="The parent the feed is narrowed to; null for "
                               "all.")
    current: str | None = Field(description="The period today (in Hai Phong) falls in; null "
                                "before the campaign starts and after it ends.")
    items: list[OverviewPeriodPublic] = Field(description="Every period, in order.")


class ParentsPublic(_Public):
    """A period's figures rolled up by parent: one line per province with expected units
    or reports, the units without a parent last."""

    campaign: str = Field(description="Campaign code.")
    period: str = Field(description="The period, e.g. `2026-W04`.")
    unit_kind: UnitKind | None = Field(description="The unit kind the feed is narrowed to; "
                                       "null for all kinds.")
    items: list[ParentProgressPublic] = Field(description="By province code.")


class MissingPagePublic(CursorPage[MissingUnitPublic]):
    """A page of the units still missing for a period, by code."""

    items: list[MissingUnitPublic] = Field(description="The missing units, by code.")


class BelowTargetPagePublic(CursorPage[FailingUnitPublic]):
    """A page of the units below a loudspeaker target, by code."""

    items: list[FailingUnitPublic] = Field(description="The units, by code, with their "
                                           "weeks and days below target.")


class UnitTablePagePublic(CursorPage[UnitRowPublic]):
    """A page of the period table: every expected unit, by kind and code."""

    items: list[UnitRowPublic] = Field(description="The units, by kind and code.")


class UnitDayPublic(_Public):
    """A day of a unit's loudspeaker broadcasts, from its standing reports."""

    day: date = Field(description="The day (local date).")
    period: str = Field(description="The period whose standing report counts the day.")
    broadcasts: int = Field(description="Broadcasts reported on that day.")
    peak: bool = Field(description="The day is in a peak window: the daily target applies.")


class UnitDaysPagePublic(CursorPage[UnitDayPublic]):
    """A page of a unit's days over a campaign, by date."""

    unit: UnitRefPublic = Field(description="The unit.")
    campaign: str = Field(description="Campaign code.")
    items: list[UnitDayPublic] = Field(description="The days it reported broadcasts on, by "
                                       "date.")
