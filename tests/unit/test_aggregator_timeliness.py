"""Timeliness counts the first report: a unit is on time for a period when its first report
arrived at or before the deadline, whatever its revisions did. Real migrated SQLite."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from services import database
from services.aggregator.migrations import MIGRATIONS
from tests.unit.test_aggregator_rules import DEADLINE, Aggregates, report, unit

SECOND = timedelta(seconds=1)


@pytest.fixture
def aggregates(migrated) -> Iterator[Aggregates]:
    found = Aggregates(migrated(MIGRATIONS))
    found.add(unit("xa-1"))
    yield found


def on_time(aggregates: Aggregates) -> bool:
    city = aggregates.progress().city
    assert city.reported == 1
    return city.on_time == 1


def stored_first(engine: Engine) -> datetime | None:
    """The first reception stored for the one report (SQLite keeps naive UTC text)."""
    with engine.connect() as connection:
        value = connection.execute(sa.text("SELECT first_received_at FROM period_reports")
                                   ).scalar_one()
    return None if value is None else datetime.fromisoformat(value + "+00:00")


def test_a_first_report_exactly_at_the_deadline_is_on_time_and_its_revision_keeps_it(
        aggregates) -> None:
    aggregates.fold(report("xa-1", at=DEADLINE))
    assert on_time(aggregates)
    aggregates.fold(report("xa-1", 2, at=DEADLINE + SECOND, first=DEADLINE))
    assert on_time(aggregates)


def test_a_first_report_one_second_late_is_late_whatever_follows(aggregates) -> None:
    aggregates.fold(report("xa-1", at=DEADLINE + SECOND))
    assert not on_time(aggregates)
    aggregates.fold(report("xa-1", 2, at=DEADLINE + 2 * SECOND, first=DEADLINE + SECOND))
    assert not on_time(aggregates)


def test_a_revision_ahead_of_its_first_version_in_one_batch_is_judged_by_the_first(
        aggregates) -> None:
    v1 = report("xa-1", at=DEADLINE)
    v2 = report("xa-1", 2, at=DEADLINE + SECOND, first=DEADLINE)
    assert aggregates.fold(v2, v1) == [v2]
    assert on_time(aggregates)


def test_a_revision_a_batch_ahead_of_its_first_version_is_judged_by_the_first(
        aggregates) -> None:
    aggregates.fold(report("xa-1", 2, at=DEADLINE + SECOND, first=DEADLINE))
    assert aggregates.fold(report("xa-1", at=DEADLINE)) == []
    assert on_time(aggregates)


def test_a_late_first_report_stays_late_when_its_revision_arrives_first(aggregates) -> None:
    aggregates.fold(report("xa-1", 2, at=DEADLINE + 2 * SECOND, first=DEADLINE + SECOND),
                    report("xa-1", at=DEADLINE + SECOND))
    assert not on_time(aggregates)


def test_redelivering_the_first_report_after_its_revision_changes_nothing(
        aggregates) -> None:
    aggregates.fold(report("xa-1", at=DEADLINE))
    aggregates.fold(report("xa-1", 2, at=DEADLINE + SECOND, first=DEADLINE))
    assert aggregates.fold(report("xa-1", at=DEADLINE)) == []
    assert on_time(aggregates) and stored_first(aggregates.engine) == DEADLINE


# Messages written before `first_received_at` existed: a revision says nothing of the first
# report, so what is stored counts, and else the message's own `on_time`.


def test_an_old_revision_keeps_the_stored_first_report(aggregates) -> None:
    aggregates.fold(report("xa-1", at=DEADLINE))
    aggregates.fold(report("xa-1", 2, at=DEADLINE + SECOND, on_time=False))  # old meaning
    assert on_time(aggregates) and stored_first(aggregates.engine) == DEADLINE


def test_an_old_revision_alone_counts_by_its_own_flag(aggregates) -> None:
    aggregates.fold(report("xa-1", 2, at=DEADLINE + SECOND, on_time=False))
    assert not on_time(aggregates) and stored_first(aggregates.engine) is None
    aggregates.fold(report("xa-1", 3, at=DEADLINE + 2 * SECOND, on_time=True))
    assert on_time(aggregates)


def test_an_old_revision_received_on_time_means_the_first_one_was(aggregates) -> None:
    aggregates.fold(report("xa-1", 2, at=DEADLINE, on_time=True))
    aggregates.fold(report("xa-1", 3, at=DEADLINE + SECOND, on_time=False))
    assert on_time(aggregates)


def test_a_newer_message_naming_the_first_reception_settles_an_old_guess(aggregates) -> None:
    aggregates.fold(report("xa-1", 2, at=DEADLINE + SECOND, on_time=False))
    aggregates.fold(report("xa-1", 3, at=DEADLINE + 2 * SECOND, first=DEADLINE))
    assert on_time(aggregates) and stored_first(aggregates.engine) == DEADLINE


def test_the_migration_takes_a_standing_first_version_as_the_first_report(tmp_path) -> None:
    engine = database.make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(sa.text(
            "INSERT INTO period_reports (campaign_code, period, unit_code, unit_kind, "
            "report_id, version, on_time, received_at, period_start, period_end) VALUES "
            "('c', '2026-W04', :unit, 'commune', :unit, :version, :on_time, "
            "'2026-01-26 10:00:00.000000', '2026-01-19', '2026-01-25')"),
            [{"unit": "xa-1", "version": 1, "on_time": True},
             {"unit": "xa-2", "version": 2, "on_time": False}])
    database.migrate(engine, MIGRATIONS)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT unit_code, first_received_at, on_time FROM period_reports ORDER BY 1")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("xa-1", "2026-01-26 10:00:00.000000", 1),
                                        ("xa-2", None, 0)]
