"""Numbering and deduplication inside one group commit, on a real SQLite database."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from services import database
from services.directory import Directory
from services.events import CampaignSnapshot, UnitSnapshot
from services.outbox import OutboxMessage
from services.registry.schemas import CampaignCreate
from services.reporting import service
from services.reporting.app import MIGRATIONS
from services.reporting.models import Report
from services.reporting.schemas import ReportIn

SEED = Path(__file__).resolve().parents[2] / "services" / "registry" / "seed" / "dai-hoi-xiv.json"
UNIT = UnitSnapshot(code="xa-a", name="Xã A", kind="commune", contacts={}, channels={},
                    active_from=date(2025, 7, 1), revision=1, updated_at=datetime.now(UTC))


@pytest.fixture
def engine(migrated):
    return migrated(MIGRATIONS)


def draft(report_id: str | None = None, note: str | None = None) -> service.Draft:
    campaign = CampaignSnapshot.model_validate(
        json.loads(SEED.read_text()) | {"revision": 1, "updated_at": "2026-01-01T00:00:00Z"})
    body = ReportIn(report_id=report_id, campaign=campaign.code, period="2026-W04",
                    activities=[{"kind": "banner", "count": 1}], note=note)
    return service.prepare(Directory(campaigns={campaign.code: campaign}), UNIT, body, None,
                           datetime.now(UTC))


def test_repeats_inside_one_batch_get_the_first_receipt(engine) -> None:
    with database.raw_transaction(engine) as db:
        outcomes = service.accept_batch(db, [draft("r1"), draft("r1"), draft(note="thêm"),
                                             draft(note="thêm"), draft()])
    first, again, unnamed, unnamed_again, same_as_latest = outcomes
    assert isinstance(first, tuple) and first[1] is False
    assert again == (first[0], True)
    assert isinstance(unnamed, tuple) and unnamed[1] is False and unnamed[0].version == 2
    assert unnamed_again == (unnamed[0], True)
    assert isinstance(same_as_latest, tuple) and same_as_latest[1] is False  # a revision back
    with Session(engine) as session:
        reports = session.exec(select(Report)).all()
        assert len(reports) == 3  # r1, "thêm", and back to r1's text
        assert len(session.exec(select(OutboxMessage)).all()) == 3
        stored = {o[0].received_at.replace(tzinfo=None) for o in (first, unnamed, same_as_latest)}
        assert {r.received_at for r in reports} == stored  # SQLite keeps naive UTC


def test_a_report_stored_earlier_is_replayed_from_the_database(engine) -> None:
    with database.raw_transaction(engine) as db:
        [first] = service.accept_batch(db, [draft("r1")])
    with database.raw_transaction(engine) as db:
        [again] = service.accept_batch(db, [draft("r1")])
    assert isinstance(first, tuple) and again == (first[0], True)


def test_revisions_inside_one_batch_are_numbered_in_order(engine) -> None:
    with database.raw_transaction(engine) as db:
        outcomes = service.accept_batch(db, [draft("a"), draft("b", note="sửa"),
                                             draft("c", note="sửa lần 2")])
    versions = [(o[0].version, o[0].supersedes) for o in outcomes if isinstance(o, tuple)]
    assert versions == [(1, None), (2, "a"), (3, "b")]


def test_a_campaign_can_be_closed_on_sqlite(tmp_path: Path) -> None:
    from services.registry import service as registry
    from services.registry.app import MIGRATIONS as REGISTRY

    engine = database.make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    database.migrate(engine, REGISTRY)
    data = CampaignCreate.model_validate(json.loads(SEED.read_text()) | {
        "code": "dong", "closes_on": "2026-03-31"})
    with Session(engine) as session:
        assert registry.create_campaign(session, data).closes_on == date(2026, 3, 31)
    engine.dispose()
