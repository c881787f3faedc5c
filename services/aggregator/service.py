"""The aggregator's decisions: which report version counts, and what the feeds say."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlmodel import Session

from services.aggregator import store
from services.aggregator.models import ActivityCount
from services.events import CampaignSnapshot, ReportSubmitted, UnitSnapshot
from services.events.reports import LoudspeakerBroadcast, Mobilisation

DETAILS = ("platform", "format", "language", "channel")


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
