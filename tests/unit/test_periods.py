"""Periods and deadlines in Hai Phong time; on time means at or before the deadline."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services import periods
from services.bus.directory import Directory
from services.events import CampaignSnapshot, ReportingPeriod, UnitSnapshot
from services.reporting import service
from services.reporting.schemas import ReportIn
from tests.unit.test_aggregator_rules import campaign

SEED = Path(__file__).resolve().parents[2] / "services" / "registry" / "seed" / "dai-hoi-xiv.json"


def test_iso_weeks_and_months_have_their_calendar_bounds() -> None:
    assert periods.bounds("2026-W04", ReportingPeriod.iso_week) == (date(2026, 1, 19),
                                                                    date(2026, 1, 25))
    assert periods.bounds("2026-W01", ReportingPeriod.iso_week)[0] == date(2025, 12, 29)
    assert periods.bounds("2026-02", ReportingPeriod.month) == (date(2026, 2, 1),
                                                               date(2026, 2, 28))
    assert periods.name_of(date(2026, 1, 25), ReportingPeriod.iso_week) == "2026-W04"


@pytest.mark.parametrize("text", ["2026-W54", "2026-4", "W04", "2026-13", "2026-W05\n",
                                  "\uff12\uff10\uff12\uff16-W05", "0000-01"])
def test_malformed_periods_are_refused(text: str) -> None:
    kind = ReportingPeriod.iso_week if "W" in text else ReportingPeriod.month
    with pytest.raises(periods.PeriodError):
        periods.bounds(text, kind)


@pytest.mark.parametrize(("offset", "on_time"), [(timedelta(0), True),
                                                 (timedelta(microseconds=1), False),
                                                 (-timedelta(hours=1), True)])
def test_timeliness_at_the_edge_of_the_deadline(offset: timedelta, on_time: bool) -> None:
    campaign = CampaignSnapshot.model_validate(
        json.loads(SEED.read_text()) | {"revision": 1, "updated_at": "2026-01-01T00:00:00Z"})
    directory = Directory(campaigns={campaign.code: campaign})
    unit = UnitSnapshot(code="xa-a", name="Xã A", kind="commune", contacts={}, channels={},
                        active_from=date(2025, 7, 1), revision=1,
                        updated_at=datetime.now(UTC))
    deadline = datetime(2026, 1, 26, 10, 0, tzinfo=UTC)  # Monday 17:00 in Hai Phong
    body = ReportIn(campaign=campaign.code, period="2026-W04", activities=[])
    draft = service.prepare(directory, unit, body, None, deadline + offset)
    event = service.new_event(draft, None)
    assert (event.deadline, event.on_time) == (deadline, on_time)


def test_every_week_of_the_campaign_is_a_period_due_the_following_monday_at_17() -> None:
    weeks = list(periods.of_campaign(campaign()))  # 2026-01-05 (Monday) to 2026-02-28
    assert [p.name for p in weeks][:2] == ["2026-W02", "2026-W03"]
    assert weeks[-1].name == "2026-W09" and len(weeks) == 8
    assert weeks[2].deadline == datetime(2026, 1, 26, 10, 0, tzinfo=UTC)  # 17:00 in Hai Phong


@pytest.mark.parametrize(("name", "rule"), [("2026-W01", "period_outside_campaign"),
                                            ("2026-W10", "period_outside_campaign"),
                                            ("2030-W01", "period_outside_campaign"),
                                            ("2026-W54", "period_format"),
                                            ("2026-01", "period_format")])
def test_a_period_outside_the_campaign_or_malformed_names_its_rule(name: str,
                                                                  rule: str) -> None:
    with pytest.raises(periods.PeriodError) as refused:
        periods.in_campaign(campaign(), name)
    assert refused.value.rule == rule


def test_a_week_partly_in_the_campaign_is_one_of_its_periods_with_its_whole_days() -> None:
    week = periods.in_campaign(campaign(), "2026-W09")  # 23 Feb to 1 Mar; the campaign ends 28 Feb
    assert (week.start, week.end) == (date(2026, 2, 23), date(2026, 3, 1))


@pytest.mark.parametrize(("day", "expected"), [(date(2026, 1, 4), None),
                                               (date(2026, 1, 5), "2026-W02"),
                                               (date(2026, 1, 25), "2026-W04"),
                                               (date(2026, 2, 28), "2026-W09"),
                                               (date(2026, 3, 1), None)])
def test_the_current_period_is_the_one_today_falls_in_within_the_campaign(
        day: date, expected: str | None) -> None:
    found = periods.current(campaign(), day)
    assert (found.name if found else None) == expected
