"""The aggregator's decisions: which report version counts, and what the feeds say."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from services import periods
from services.aggregator import store
from services.aggregator.models import ActivityCount
from services.events import (
    COMMUNE_LEVEL,
    ActivityKind,
    CampaignSnapshot,
    KindTargets,
    ReportingPeriod,
    ReportSubmitted,
    UnitSnapshot,
)
from services.events.reports import LoudspeakerBroadcast, Mobilisation

DETAILS = ("platform", "format", "language", "channel")
ACTIVITY_KINDS = tuple(kind.value for kind in ActivityKind)


def fold(session: Session, events: list[ReportSubmitted]) -> list[ReportSubmitted]:
    """Apply events in order; one no newer than the standing version changes nothing.

    Idempotent: a duplicate or a late-arriving older version is skipped, a revision replaces
    all that its predecessor contributed. Returns the events that changed something."""
    standing = store.standing_versions(session, {_key(e) for e in events})
    winners: dict[store.Key, ReportSubmitted] = {}
    applied = []
    for event in events:
        if standing.get(_key(event), 0) >= event.version:
            continue
        standing[_key(event)] = event.version
        winners[_key(event)] = event
        applied.append(event)
    if winners:
        heads, counts, days = _rows(winners.values())
        store.replace(session, heads, counts, days)
    return applied


def _key(event: ReportSubmitted) -> store.Key:
    return event.campaign_code, event.period, event.unit_code


def _rows(events: Iterable[ReportSubmitted]) -> tuple[list[dict], list[dict], list[dict]]:
    heads, counts, days = [], [], []
    for e in events:
        heads.append({"campaign_code": e.campaign_code, "period": e.period,
                      "unit_code": e.unit_code, "unit_kind": e.unit_kind,
                      "report_id": e.report_id, "version": e.version, "on_time": e.on_time,
                      "received_at": e.received_at, "period_start": e.period_start,
                      "period_end": e.period_end})
        counts += _count_rows(e)
        days += [{"campaign_code": e.campaign_code, "unit_code": e.unit_code, "day": day,
                  "period": e.period, "count": n} for day, n in _daily(e).items()]
    return heads, counts, days


def _count_rows(event: ReportSubmitted) -> list[dict[str, Any]]:
    totals: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for activity in event.activities:
        detail = tuple(str(getattr(activity, name, None) or "") for name in DETAILS)
        bucket = totals[(activity.kind, *detail)]
        bucket["count"] += activity.count
        if isinstance(activity, Mobilisation):
            bucket["people_mobilised"] += activity.people_mobilised
            bucket["shares"] += activity.shares
    return [{"campaign_code": event.campaign_code, "period": event.period,
             "unit_code": event.unit_code, "unit_kind": event.unit_kind, "kind": key[0],
             **dict(zip(DETAILS, key[1:], strict=True)), "count": bucket["count"],
             "people_mobilised": bucket["people_mobilised"], "shares": bucket["shares"]}
            for key, bucket in totals.items()]


def _daily(event: ReportSubmitted) -> Counter[date]:
    days: Counter[date] = Counter()
    for activity in event.activities:
        if isinstance(activity, LoudspeakerBroadcast):
            days.update(activity.daily_counts)
    return days


# --- feeds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One period of a campaign, optionally narrowed to one unit kind."""

    campaign: CampaignSnapshot
    name: str
    start: date
    end: date
    kind: str | None = None


def due_periods(campaign: CampaignSnapshot, now: datetime
                ) -> Iterator[tuple[str, date, date, datetime]]:
    """The campaign's periods whose deadline has passed."""
    day, seen = campaign.starts_on, set()
    while day <= campaign.ends_on:
        name = periods.name_of(day, campaign.reporting_period)
        if name not in seen:
            seen.add(name)
            start, end = periods.bounds(name, campaign.reporting_period)
            deadline = periods.deadline(end, campaign.deadline)
            if deadline < now:
                yield name, start, end, deadline
        day += timedelta(days=1)


def expected_units(units: Iterable[UnitSnapshot], campaign: CampaignSnapshot, start: date,
                   end: date, kind: str | None = None) -> dict[str, UnitSnapshot]:
    """Active at some point in the period and of a kind the campaign expects reports from."""
    return {
        u.code: u for u in units
        if (kind is None or u.kind == kind)
        and u.kind in campaign.targets and campaign.targets[u.kind].reports_each_period
        and u.active_from <= end and (u.active_until is None or u.active_until >= start)
    }


def ratios(expected: dict[str, UnitSnapshot], reported: dict[str, bool]) -> dict[str, Any]:
    """Completeness and timeliness, per unit kind and city-wide."""
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({u.kind for u in expected.values()}):
        codes = [c for c, u in expected.items() if u.kind == kind]
        by_kind[kind] = _ratio(codes, reported)
    return {"city": _ratio(list(expected), reported), "by_unit_kind": by_kind}


def _ratio(codes: list[str], reported: dict[str, bool]) -> dict[str, Any]:
    done = [c for c in codes if c in reported]
    on_time = [c for c in done if reported[c]]
    total = len(codes)
    return {"expected": total, "reported": len(done), "on_time": len(on_time),
            "completeness": round(len(done) / total, 4) if total else None,
            "timeliness": round(len(on_time) / total, 4) if total else None}


def totals(rows: Iterable[ActivityCount]) -> dict[str, Any]:
    """Totals by activity kind, with the platform, format, language and channel breakdowns."""
    by_kind: Counter[str] = Counter()
    breakdown: dict[str, Counter[str]] = {name: Counter() for name in DETAILS}
    people = shares = 0
    for row in rows:
        by_kind[row.kind] += row.count
        for name in DETAILS:
            if getattr(row, name):
                breakdown[name][f"{row.kind}:{getattr(row, name)}"] += row.count
        people, shares = people + row.people_mobilised, shares + row.shares
    return {"by_activity_kind": dict(sorted(by_kind.items())),
            **{f"by_{name}": dict(sorted(counter.items())) for name, counter in breakdown.items()},
            "people_mobilised": people, "shares": shares}


def compliance(expected: dict[str, UnitSnapshot], campaign: CampaignSnapshot,
               broadcasts: dict[str, dict[date, int]], start: date, end: date,
               today: date) -> dict[str, Any]:
    """Loudspeaker duty of commune-level units: each ISO week of the period against the
    weekly target, each peak-window day against the daily target. Days after `today`
    cannot fail yet; more than the target is never a breach."""
    failing, checked = [], 0
    for code, unit in sorted(expected.items()):
        targets = campaign.targets.get(unit.kind)
        if unit.kind not in COMMUNE_LEVEL or targets is None:
            continue
        checked += 1
        verdict = _unit_compliance(unit, targets, campaign, broadcasts.get(code, {}),
                                   start, min(end, today))
        if verdict["weeks_below"] or verdict["days_below"]:
            failing.append(verdict)
    return {"units_checked": checked, "units_failing": len(failing),
            "units_below_weekly": sum(1 for f in failing if f["weeks_below"]),
            "units_below_daily": sum(1 for f in failing if f["days_below"]),
            "failing": failing}


def _unit_compliance(unit: UnitSnapshot, targets: KindTargets, campaign: CampaignSnapshot,
                     days: dict[date, int], start: date, last: date) -> dict[str, Any]:
    weeks_below, days_below = [], []
    for monday in _whole_weeks(start, last):
        total = sum(days.get(monday + timedelta(d), 0) for d in range(7))
        if targets.loudspeaker_per_week is not None and total < targets.loudspeaker_per_week:
            weeks_below.append({"week": periods.name_of(monday, ReportingPeriod.iso_week),
                                "broadcasts": total, "target": targets.loudspeaker_per_week})
    for day in _peak_days(campaign, start, last):
        count = days.get(day, 0)
        if targets.loudspeaker_per_peak_day is not None and \
                count < targets.loudspeaker_per_peak_day:
            days_below.append({"day": day, "broadcasts": count,
                               "target": targets.loudspeaker_per_peak_day})
    return {"code": unit.code, "name": unit.name, "kind": unit.kind,
            "weeks_below": weeks_below, "days_below": days_below}


def _whole_weeks(start: date, last: date) -> list[date]:
    """Mondays of the ISO weeks that lie wholly between start and last."""
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    weeks = []
    while monday + timedelta(days=6) <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _peak_days(campaign: CampaignSnapshot, start: date, last: date) -> list[date]:
    days = set()
    for window in campaign.peak_windows:
        day = max(start, window.starts_on)
        while day <= min(last, window.ends_on):
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)


PLATFORMS = ("facebook", "zalo", "youtube", "tiktok")
LANGUAGES = ("en", "zh", "ja", "ko")


def coverage(rows: Iterable[ActivityCount]) -> dict[str, Any]:
    """Which of the four platforms and four languages the city and each unit kind covered."""
    seen: dict[str, set[str]] = defaultdict(set, city=set())
    for row in rows:
        if row.count <= 0:
            continue
        for scope in ("city", row.unit_kind):
            if row.platform:
                seen[scope].add(f"platform:{row.platform}")
            if row.language:
                seen[scope].add(f"language:{row.language}")
    return {scope: {"platforms": {p: f"platform:{p}" in found for p in PLATFORMS},
                    "languages": {lang: f"language:{lang}" in found for lang in LANGUAGES}}
            for scope, found in sorted(seen.items())}
