"""CSV import decisions, on a real (file) SQLite database with the real migrations."""

from datetime import date

import pytest
from sqlmodel import Session, select

from deploy.local import UNITS_CSV
from services.bus.outbox import OutboxMessage
from services.registry import importing
from services.registry.migrations import MIGRATIONS
from services.registry.models import Unit

CSV = UNITS_CSV
START = date(2025, 7, 1)


@pytest.fixture
def session(migrated):
    with Session(migrated(MIGRATIONS)) as session:
        yield session


def run(session: Session, text: str | bytes, *, good_rows: bool = False):
    raw = text.encode() if isinstance(text, str) else text
    return importing.import_units(session, raw, good_rows=good_rows, active_from=START)


def test_all_commune_level_units_import_with_unique_codes(session) -> None:
    report = run(session, CSV.read_bytes())
    assert (report.imported, report.created, report.problems) == (True, 114, [])
    units = session.exec(select(Unit)).all()
    assert {u.kind for u in units} == {"ward", "commune", "special_zone"}
    codes = {u.name: u.code for u in units}
    assert codes["Xã Cẩm Giang"] != codes["Xã Cẩm Giàng"]
    assert all(u.active_from == START for u in units)
    assert len(session.exec(select(OutboxMessage)).all()) == 114


def test_reimport_with_other_accent_placement_changes_nothing(session) -> None:
    run(session, "kind,name\ncommune,Xã Hòa Bình\n")
    report = run(session, "kind,name\ncommune,Xã Hoà Bình\n")
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    assert [u.name for u in session.exec(select(Unit)).all()] == ["Xã Hòa Bình"]  # as first


def test_bad_header_is_reported_on_line_one(session) -> None:
    report = run(session, "kind,ten\nward,Phường A\n", good_rows=True)
    assert not report.imported
    assert {(p.line, p.field) for p in report.problems} == {(1, "name"), (1, "ten")}


def test_non_utf8_file_is_refused(session) -> None:
    report = run(session, b"kind,name\nward,Ph\xf0\xf4ng A\n")  # a Windows-1258 file
    assert not report.imported and report.problems[0].field == "file"


def test_bad_rows_block_the_whole_file_unless_good_rows_asked(session) -> None:
    text = "kind,name,webhook_url,active_from\nward,Phường A,,\nward,Phường B,ftp://x,\n" \
           "ward,Phường C,,2025-13-01\n"
    refused = run(session, text)
    assert not refused.imported and refused.rejected == 2
    assert {(p.line, p.field) for p in refused.problems} == {(3, "webhook_url"),
                                                             (4, "active_from")}
    assert session.exec(select(Unit)).all() == []
    accepted = run(session, text, good_rows=True)
    assert accepted.imported and accepted.created == 1


def test_same_code_twice_in_a_file_is_refused(session) -> None:
    report = run(session, "code,kind,name\nx-a,ward,Phường A\nx-a,ward,Phường B\n")
    assert [(p.line, p.field) for p in report.problems] == [(3, "code")]
