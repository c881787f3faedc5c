"""The aggregator's handler over one batch of report messages, run by the real runner on an
in-memory source and a real SQLite database."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from services.aggregator import store
from services.aggregator.handlers import ReportFold
from services.aggregator.migrations import MIGRATIONS
from services.bus.consumer import MemorySource
from services.bus.directory import Directory
from services.events import AGGREGATOR_DEAD_LETTERS, REPORTS, ReportSubmitted
from tests.handlers import Recorder, outbox, run


@pytest.fixture
def engine(migrated):
    return migrated(MIGRATIONS)


def message(unit: str, version: int, **changes: Any) -> bytes:
    event = {"report_id": f"{unit}-v{version}", "unit_code": unit, "unit_kind": "commune",
             "campaign_code": "dai-hoi-xiv", "period": "2026-W04",
             "period_start": "2026-01-19", "period_end": "2026-01-25", "version": version,
             "received_at": datetime.now(UTC).isoformat(),
             "deadline": "2026-01-26T10:00:00Z", "on_time": True,
             "activities": [{"kind": "banner", "count": version}]}
    return json.dumps(event | changes).encode()


def fold(engine, *values: bytes) -> tuple[list[ReportSubmitted], list[dict[str, Any]]]:
    """One batch through the runner: the versions that became standing, and the dead
    letters the outbox holds afterwards."""
    source = MemorySource()
    for value in values:
        source.put(REPORTS, "k", value)
    handler = Recorder(ReportFold(Directory()))
    run(handler, source, engine=engine, dead_letters=AGGREGATOR_DEAD_LETTERS)
    applied = [event for result in handler.results for event in result[0]]
    return applied, [value for topic, _, value in outbox(engine)
                     if topic == AGGREGATOR_DEAD_LETTERS.name]


def banners(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {row.unit_code: row.count
                for row in store.counts(session, "dai-hoi-xiv", period="2026-W04")}


def test_only_the_newest_version_of_a_batch_is_read_and_counted(engine) -> None:
    superseded = message("xa-a", 1, activities="not a list")  # never needed, never read
    applied, dead = fold(engine, superseded, message("xa-a", 3), message("xa-a", 2),
                         message("xa-b", 1))
    assert sorted((e.unit_code, e.version) for e in applied) == [("xa-a", 3), ("xa-b", 1)]
    assert dead == []
    assert banners(engine) == {"xa-a": 3, "xa-b": 1}


def test_redelivery_and_older_versions_change_nothing(engine) -> None:
    fold(engine, message("xa-a", 2))
    applied, dead = fold(engine, message("xa-a", 2), message("xa-a", 1))
    assert applied == [] and dead == []
    assert banners(engine) == {"xa-a": 2}


def test_an_unreadable_newest_version_gives_way_to_the_one_before(engine) -> None:
    applied, dead = fold(engine, message("xa-a", 1), message("xa-a", 2, on_time="maybe"),
                         b"{not json")
    assert [(e.unit_code, e.version) for e in applied] == [("xa-a", 1)]
    errors = {letter["offset"]: letter["error"] for letter in dead}
    assert {letter["consumer"] for letter in dead} == {"aggregator"}
    assert sorted(errors) == [1, 2]
    assert errors[1].startswith("1 validation error for ReportSubmitted\non_time")
    assert "Invalid JSON" in errors[2]
    assert banners(engine) == {"xa-a": 1}


def test_a_revision_replaces_every_row_of_its_predecessor(engine) -> None:
    fold(engine, message("xa-a", 1, activities=[
        {"kind": "social_post", "count": 2, "platform": "zalo", "format": "news"},
        {"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-19": 2, "2026-01-20": 1}}]))
    fold(engine, message("xa-a", 2, activities=[
        {"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-21": 1}}]))
    with Session(engine) as session:
        rows = [(r.kind, r.platform, r.count)
                for r in store.counts(session, "dai-hoi-xiv", period="2026-W04")]
        days = store.broadcasts(session, "dai-hoi-xiv", datetime(2026, 1, 19).date(),
                                datetime(2026, 1, 25).date())
    assert rows == [("loudspeaker_broadcast", "", 1)]
    assert days == {"xa-a": {datetime(2026, 1, 21).date(): 1}}


def test_received_at_is_stored_as_sqlalchemy_stores_it(engine) -> None:
    [event], _ = fold(engine, message("xa-a", 1))
    with Session(engine) as session:
        [report] = store.unit_reports(session, "dai-hoi-xiv", "xa-a")
        [(text,)] = session.execute(sa.text("SELECT received_at FROM period_reports")).all()
    assert report.received_at == event.received_at.replace(tzinfo=None)  # SQLite: naive UTC
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", text)
