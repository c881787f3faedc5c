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
