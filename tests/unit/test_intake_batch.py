"""Intake decisions on a real SQLite database: numbering and deduplication inside one group
commit, timeliness counted from the first report, and who may report for which period."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services import database
from services.bus.directory import Directory
from services.bus.outbox import OutboxMessage
from services.events import CampaignSnapshot, UnitSnapshot
from services.refusals import Conflict, Forbidden
from services.registry.schemas import CampaignCreate
from services.reporting import service
from services.reporting.migrations import MIGRATIONS
from services.reporting.models import Report
from services.reporting.schemas import Receipt, ReportIn

SEED = Path(__file__).resolve().parents[2] / "services" / "registry" / "seed" / "dai-hoi-xiv.json"
UNIT = UnitSnapshot(code="xa-a", name="Xã A", kind="commune", contacts={}, channels={},
                    active_from=date(2025, 7, 1), revision=1, updated_at=datetime.now(UTC))


@pytest.fixture
def engine(migrated):
    return migrated(MIGRATIONS)


DEADLINE = datetime(2026, 1, 26, 10, 0, tzinfo=UTC)  # of 2026-W04: Monday 17:00 in Hai Phong
SECOND = timedelta(seconds=1)


def draft(report_id: str | None = None, note: str | None = None, *,
          received_at: datetime | None = None, unit: UnitSnapshot = UNIT,
          period: str = "2026-W04") -> service.Draft:
    campaign = CampaignSnapshot.model_validate(
        json.loads(SEED.read_text()) | {"revision": 1, "updated_at": "2026-01-01T00:00:00Z"})
    body = ReportIn(report_id=report_id, campaign=campaign.code, period=period,
                    activities=[{"kind": "banner", "count": 1}], note=note)
    return service.prepare(Directory(campaigns={campaign.code: campaign}), unit, body, None,
                           received_at or datetime.now(UTC))


def accept(engine, *drafts: service.Draft) -> list[Receipt]:
    """Store new reports in one batch; their receipts."""
    with database.raw_transaction(engine) as db:
        outcomes = service.accept_batch(db, list(drafts))
    assert all(isinstance(o, tuple) and o[1] is False for o in outcomes), outcomes
    return [o[0] for o in outcomes if isinstance(o, tuple)]


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


@pytest.mark.parametrize(("first_at", "on_time"), [(DEADLINE, True), (DEADLINE + SECOND, False)],
                         ids=["first-at-the-deadline", "first-a-second-late"])
def test_a_revision_keeps_the_timeliness_of_the_first_report(engine, first_at,
                                                              on_time) -> None:
    [first] = accept(engine, draft("v1", received_at=first_at))
    [revision] = accept(engine, draft("v2", "sửa", received_at=first_at + SECOND))
    assert (first.version, revision.version) == (1, 2)
    assert (first.on_time, revision.on_time) == (on_time, on_time)
    assert first.first_received_at == revision.first_received_at == first_at
    assert revision.received_at == first_at + SECOND
    with Session(engine) as session:
        assert [r.on_time for r in session.exec(select(Report).order_by(col(Report.version)))] == [
            on_time, on_time]


def test_a_revision_in_the_same_batch_counts_from_the_first_report(engine) -> None:
    receipts = accept(engine, draft("v1", received_at=DEADLINE),
                      draft("v2", "sửa", received_at=DEADLINE + SECOND))
    assert [(r.version, r.on_time, r.first_received_at) for r in receipts] == [
        (1, True, DEADLINE), (2, True, DEADLINE)]


RETIRED = UNIT.model_copy(update={"active_until": date(2026, 1, 25)})  # last day of 2026-W04


def test_a_retired_unit_reports_for_the_periods_it_was_active_in() -> None:
    late = datetime(2026, 3, 2, tzinfo=UTC)  # long after it retired, and after the deadline
    assert draft(unit=RETIRED, received_at=late).period == "2026-W04"
    with pytest.raises(Forbidden) as refused:
        draft(unit=RETIRED, received_at=late, period="2026-W05")
    assert refused.value.code == "unit_retired"
    assert "last active day was 2026-01-25" in refused.value.message


def test_a_unit_reports_from_the_period_it_starts_in() -> None:
    starting = UNIT.model_copy(update={"active_from": date(2026, 1, 25)})  # Sunday of W04
    assert draft(unit=starting, period="2026-W04").period == "2026-W04"
    with pytest.raises(Forbidden) as refused:
        draft(unit=starting, period="2026-W03")
    assert refused.value.code == "unit_not_active"
    assert "reports from 2026-01-25" in refused.value.message


def upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_reports_stored_before_the_upgrade_keep_their_first_arrival(tmp_path: Path) -> None:
    engine = database.make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    upgrade(engine, "0002")
    key = {"unit_code": UNIT.code, "campaign_code": "dai-hoi-xiv", "period": "2026-W04"}
    with Session(engine) as session:
        for version, at in ((1, DEADLINE - SECOND), (2, DEADLINE + SECOND)):
            session.add(Report(id=f"old-{version}", version=version, received_at=at,
                               on_time=version == 1, content_sha256=f"{version}", event="{}",
                               **key))
        session.execute(sa.text(
            "INSERT INTO report_heads (unit_code, campaign_code, period, report_id, version, "
            "content_sha256) VALUES (:unit_code, :campaign_code, :period, 'old-2', 2, '2')"),
            key)
        session.commit()
    upgrade(engine, "head")
    [revision] = accept(engine, draft("v3", "sửa lần 2", received_at=DEADLINE + 60 * SECOND))
    assert (revision.version, revision.on_time) == (3, True)
    assert revision.first_received_at == DEADLINE - SECOND
    engine.dispose()


def test_a_campaign_can_be_closed_on_sqlite(tmp_path: Path) -> None:
    from services.registry import service as registry
    from services.registry.audit import SEED as BY_SEED
    from services.registry.migrations import MIGRATIONS as REGISTRY

    engine = database.make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    database.migrate(engine, REGISTRY)
    data = CampaignCreate.model_validate(json.loads(SEED.read_text()) | {
        "code": "dong", "closes_on": "2026-03-31"})
    with Session(engine) as session:
        assert registry.create_campaign(session, data, by=BY_SEED).closes_on == date(2026, 3, 31)
    engine.dispose()


OTHER = UNIT.model_copy(update={"code": "xa-b", "name": "Xã B"})


def test_two_units_may_choose_the_same_report_id_and_neither_learns_of_the_other(
        engine) -> None:
    [mine] = accept(engine, draft("bao-cao-1"))
    [theirs] = accept(engine, draft("bao-cao-1", "nội dung khác", unit=OTHER))
    assert (mine.unit, theirs.unit) == ("xa-a", "xa-b")
    assert (mine.version, theirs.version) == (1, 1)
    with database.raw_transaction(engine) as db:
        again, clash = service.accept_batch(db, [draft("bao-cao-1", "nội dung khác", unit=OTHER),
                                                 draft("bao-cao-1", "sửa")])
    assert again == (theirs, True)  # the other unit's own id, replayed
    assert isinstance(clash, Conflict) and clash.code == "report_id_reused"  # within a unit


def test_the_upgrade_keeps_every_report_and_frees_ids_across_units(tmp_path: Path) -> None:
    engine = database.make_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    upgrade(engine, "0003")
    [before] = accept(engine, draft("bao-cao-1"))
    upgrade(engine, "head")
    [replayed] = _outcomes(engine, draft("bao-cao-1"))
    assert replayed == (before, True)
    [theirs] = accept(engine, draft("bao-cao-1", unit=OTHER))
    assert theirs.version == 1
    with Session(engine) as session:
        assert {(r.unit_code, r.id) for r in session.exec(select(Report))} == {
            ("xa-a", "bao-cao-1"), ("xa-b", "bao-cao-1")}
    engine.dispose()


def _outcomes(engine: Engine, *drafts: service.Draft) -> list[service.Outcome]:
    with database.raw_transaction(engine) as db:
        return service.accept_batch(db, list(drafts))
