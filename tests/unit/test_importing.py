"""CSV import decisions, on a real (file) SQLite database with the real migrations: what a
file imports, the lines its problems are reported on, how chunks keep a file all or nothing,
and the import as a job over HTTP."""

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from deploy.local import UNITS_CSV
from services.bus.outbox import OutboxMessage
from services.database import write_lock
from services.registry import api, importing, service
from services.registry.api import router
from services.registry.audit import SEED
from services.registry.migrations import MIGRATIONS
from services.registry.models import Unit, UnitImport, UnitImportRow
from services.registry.names import tone_slug
from services.registry.schemas import ImportReport, UnitCreate, UnitUpdate
from tests.unit.apps import bearer, client

START = date(2025, 7, 1)
ADMIN = bearer("admin")


@pytest.fixture
def engine(migrated) -> Engine:
    return migrated(MIGRATIONS)


async def _pieces(raw: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(raw), size):
        yield raw[at:at + size]


def upload(raw: bytes, *, piece: int = 65536) -> importing.Upload:
    return asyncio.run(importing.receive(_pieces(raw, piece), limit=len(raw) + 1))


def run(engine: Engine, text: str | bytes, *, good_rows: bool = False,
        chunk: int = importing.CHUNK,
        committed: Any = lambda: None) -> ImportReport:
    raw = text.encode() if isinstance(text, str) else text
    received = upload(raw)
    job = importing.start(engine, received, good_rows=good_rows, active_from=START)
    return importing.report(importing.run(engine, job.id, received, by=SEED, chunk=chunk,
                                          committed=committed))


def units(engine: Engine) -> dict[str, Unit]:
    with Session(engine) as session:
        return {u.name: u for u in session.exec(select(Unit)).all()}


def count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return len(session.exec(select(table)).all())


def lines(report: ImportReport) -> list[tuple[int, str]]:
    return [(p.line, p.field) for p in report.problems]


def csv_of(names: list[str], *, header: str = "kind,name") -> str:
    return header + "\n" + "".join(f"commune,{name}\n" for name in names)


class TestWhatAFileImports:
    def test_all_commune_level_units_import_with_unique_codes(self, engine) -> None:
        report = run(engine, UNITS_CSV.read_bytes())
        assert (report.imported, report.created, report.problems) == (True, 114, [])
        stored = units(engine)
        assert {u.kind for u in stored.values()} == {"ward", "commune", "special_zone"}
        assert stored["Xã Cẩm Giang"].code != stored["Xã Cẩm Giàng"].code
        assert all(u.active_from == START for u in stored.values())
        assert count(engine, OutboxMessage) == 114

    def test_each_new_unit_is_published_as_the_registry_publishes_it(self, engine) -> None:
        text = ("kind,name,admin_code,email,phone,webhook_url,facebook,zalo,active_until\n"
                "ward,Phường Hải An,31012,vanthu@haian.gov.vn,0225 3842 000,"
                "https://haian.gov.vn/hook,https://facebook.com/haian,haian,2026-12-31\n"
                "commune,Xã Bạch Đằng,,,,,,,\n")
        run(engine, text)
        with Session(engine) as session:
            published = {m.key: json.loads(m.value or b"null")
                         for m in session.exec(select(OutboxMessage)).all()}
            expected = {u.code: json.loads(service.unit_snapshot(u).model_dump_json())
                        for u in session.exec(select(Unit)).all()}
        assert published == expected and len(expected) == 2

    def test_reimport_with_other_accent_placement_changes_nothing(self, engine) -> None:
        run(engine, "kind,name\ncommune,Xã Hòa Bình\n")
        report = run(engine, "kind,name\ncommune,Xã Hoà Bình\n")
        assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
        assert list(units(engine)) == ["Xã Hòa Bình"]  # as first written

    def test_a_row_with_a_known_code_updates_its_unit(self, engine) -> None:
        run(engine, "code,kind,name\nxa-a,commune,Xã A\n")
        report = run(engine, "code,kind,name,email\nxa-a,commune,Xã A,a@haiphong.gov.vn\n")
        assert (report.created, report.updated) == (0, 1)
        assert units(engine)["Xã A"].email == "a@haiphong.gov.vn"
        assert units(engine)["Xã A"].revision == 2

    def test_bad_rows_block_the_whole_file_unless_good_rows_asked(self, engine) -> None:
        text = "kind,name,webhook_url,active_from\nward,Phường A,,\nward,Phường B,ftp://x,\n" \
               "ward,Phường C,,2025-13-01\n"
        refused = run(engine, text)
        assert not refused.imported and refused.rejected == 2
        assert set(lines(refused)) == {(3, "webhook_url"), (4, "active_from")}
        assert units(engine) == {}
        accepted = run(engine, text, good_rows=True)
        assert accepted.imported and accepted.created == 1

    def test_same_code_twice_in_a_file_is_refused(self, engine) -> None:
        report = run(engine, "code,kind,name\nx-a,ward,Phường A\nx-a,ward,Phường B\n")
        assert lines(report) == [(3, "code")]

    def test_an_admin_code_another_unit_has_is_refused_on_its_line(self, engine) -> None:
        run(engine, "kind,name,admin_code\ncommune,Xã A,31001\n")
        report = run(engine, "kind,name,admin_code\ncommune,Xã B,31002\ncommune,Xã C,31001\n")
        assert [(p.line, p.field, p.reason) for p in report.problems] == [
            (3, "admin_code", "unit xa-a already has this admin code")]
        assert set(units(engine)) == {"Xã A"}

    def test_a_last_day_before_the_default_first_day_is_refused(self, engine) -> None:
        report = run(engine, "kind,name,active_until\ncommune,Xã A,2025-01-31\n")
        assert lines(report) == [(2, "active_until")]


class TestProblemLines:
    def test_bad_header_is_reported_on_line_one(self, engine) -> None:
        report = run(engine, "kind,ten\nward,Phường A\n", good_rows=True)
        assert not report.imported
        assert set(lines(report)) == {(1, "name"), (1, "ten")}

    def test_a_column_given_twice_is_refused(self, engine) -> None:
        report = run(engine, "kind,name,name\nward,Phường A,Phường B\n", good_rows=True)
        assert [(p.line, p.field, p.reason) for p in report.problems] == [
            (1, "name", "column given twice")]

    def test_a_byte_that_is_not_utf8_is_reported_on_its_line(self, engine) -> None:
        report = run(engine, b"kind,name\nward,Ph\xc6\xb0\xe1\xbb\x9dng A\nward,Ph\xf0\xf4ng B\n",
                     good_rows=True)  # the second row as Windows-1258 wrote it
        assert not report.imported
        assert [(p.line, p.field) for p in report.problems] == [(3, "file")]
        assert report.problems[0].reason.startswith("not UTF-8")

    def test_a_character_split_between_received_pieces_is_utf8(self) -> None:
        raw = "kind,name\nward,Phường A\n".encode()
        for piece in range(1, 8):
            received = upload(raw, piece=piece)
            assert received.not_utf8 is None and received.path.read_bytes() == raw
            received.path.unlink()

    def test_an_unclosed_quote_is_reported_where_it_opens(self, engine) -> None:
        text = 'kind,name\nward,Phường A\nward,"Phường B\nward,Phường C\nward,Phường D\n'
        report = run(engine, text, good_rows=True)
        assert not report.imported and units(engine) == {}
        [problem] = report.problems
        assert (problem.line, problem.field) == (3, "file")
        assert "never closed" in problem.reason

    def test_a_cell_over_the_csv_limit_is_reported_where_its_row_begins(self, engine) -> None:
        long_cell = "dòng\n" * 30_000  # 150,000 characters over 30,000 lines
        text = f'kind,name\nward,Phường A\nward,"{long_cell}"\nward,Phường C\n'
        report = run(engine, text, good_rows=True)
        [problem] = report.problems
        assert (problem.line, problem.field) == (3, "file")
        assert "field larger than field limit" in problem.reason
        assert "(the row runs from here to line " in problem.reason  # where csv gave up

    def test_a_stray_quote_is_reported_on_the_line_it_is_on(self, engine) -> None:
        text = 'kind,name,email\nward,Phường A,"a@x.vn\nb" c\nward,Phường B,\n'
        [problem] = run(engine, text).problems
        assert (problem.line, problem.field) == (2, "file")
        assert "(the row runs from here to line 3)" in problem.reason

    def test_a_row_is_numbered_by_the_line_it_begins_on(self, engine) -> None:
        text = ('kind,name,email\nward,Phường A,"not\nan email"\n\n'
                'ward,Phường B,\nvillage,Thôn C,\n')
        report = run(engine, text, good_rows=True)
        assert lines(report) == [(2, "email"), (6, "kind")]
        assert report.created == 1


class TestChunks:
    """Chunks of two rows, so that every rule meets rows of another chunk."""

    def test_a_name_repeated_in_a_later_chunk_names_the_first_line(self, engine) -> None:
        report = run(engine, csv_of(["Xã Hòa A", "Xã B", "Xã C", "Xã Hoà A"]), chunk=2,
                     good_rows=True)
        assert [(p.line, p.reason) for p in report.problems] == [(5, "same name as line 2")]
        assert report.created == 3

    def test_a_bad_row_repeating_a_name_still_holds_it(self, engine) -> None:
        text = "kind,name\nvillage,Xã A\ncommune,Xã B\ncommune,Xã C\ncommune,Xã A\n"
        report = run(engine, text, chunk=2, good_rows=True)
        assert lines(report) == [(2, "kind"), (5, "name")]

    def test_codes_made_from_names_stay_unique_across_chunks(self, engine) -> None:
        report = run(engine, csv_of(["Xã Hòa", "Xã B", "Xã C", "Xã Hóa"]), chunk=2)
        assert report.created == 4
        stored = units(engine)
        assert (stored["Xã Hòa"].code, stored["Xã Hóa"].code) == ("xa-hoa", tone_slug("Xã Hóa"))

    def test_a_code_given_in_a_later_chunk_clashes_with_a_made_one(self, engine) -> None:
        text = "code,kind,name\n,commune,Xã A\n,commune,Xã B\nxa-a,commune,Xã C\n"
        report = run(engine, text, chunk=2)
        assert [(p.line, p.field, p.reason) for p in report.problems] == [
            (4, "code", "same code as line 2; give a code")]

    def test_a_name_whose_codes_are_both_taken_is_asked_for_a_code(self, engine) -> None:
        run(engine, "code,kind,name\nxa-tu-hai,commune,Xã Một\nxa4-tu1-hai3,commune,Xã Hai\n")
        report = run(engine, "kind,name\ncommune,Xã Tú Hải\n")
        assert [(p.line, p.field, p.reason) for p in report.problems] == [
            (2, "code", "the codes this name makes (xa-tu-hai, xa4-tu1-hai3) are taken; "
             "give a code")]

    def test_an_admin_code_repeated_in_a_later_chunk_is_refused(self, engine) -> None:
        text = "kind,name,admin_code\ncommune,Xã A,1\ncommune,Xã B,2\ncommune,Xã C,1\n"
        report = run(engine, text, chunk=2)
        assert [(p.line, p.reason) for p in report.problems] == [
            (4, "same admin code as line 2")]

    def test_a_bad_row_in_the_last_chunk_writes_no_chunk(self, engine) -> None:
        names = [f"Xã Số {n}" for n in range(7)]
        report = run(engine, csv_of(names) + "village,Thôn Cuối\n", chunk=2)
        assert not report.imported and lines(report) == [(9, "kind")]
        assert units(engine) == {} and count(engine, OutboxMessage) == 0
        assert count(engine, UnitImportRow) == 0

    def test_good_rows_writes_every_chunk_and_one_event_per_unit(self, engine) -> None:
        names = [f"Xã Số {n}" for n in range(7)]
        report = run(engine, csv_of(names) + "village,Thôn Cuối\n", chunk=2, good_rows=True)
        assert (report.imported, report.created, report.rejected) == (True, 7, 1)
        with Session(engine) as session:
            keys = [m.key for m in session.exec(select(OutboxMessage)).all()]
        assert sorted(keys) == sorted(u.code for u in units(engine).values())
        assert count(engine, UnitImportRow) == 0

    def test_the_write_lock_is_free_between_chunks(self, engine) -> None:
        free: list[bool] = []

        def committed() -> None:
            lock = write_lock(engine)
            taken = lock.acquire(blocking=False)  # type: ignore[attr-defined]
            free.append(taken)
            if taken:
                lock.release()  # type: ignore[attr-defined]

        run(engine, csv_of([f"Xã Số {n}" for n in range(5)]), chunk=2, committed=committed)
        assert free == [True, True, True]  # one per chunk written: 2 + 2 + 1 rows

    def test_a_name_taken_between_checking_and_writing_refuses_only_its_row(
            self, engine) -> None:
        def committed() -> None:  # another admin's write, between two chunks
            if "Xã Cuối" not in units(engine):
                with write_lock(engine), Session(engine) as session:
                    service.create_unit(session, UnitCreate(name="Xã Cuối", kind="commune",
                                                            code="xa-cuoi-khac"), by=SEED)

        report = run(engine, csv_of(["Xã A", "Xã B", "Xã Cuối"]), chunk=2,
                     committed=committed)
        assert [(p.line, p.field, p.reason) for p in report.problems] == [
            (4, "name", "unit xa-cuoi-khac took this name meanwhile")]
        assert (report.imported, report.created, report.rejected) == (True, 2, 1)
        assert units(engine)["Xã Cuối"].code == "xa-cuoi-khac"

    def test_a_unit_renamed_meanwhile_is_updated_by_its_code(self, engine) -> None:
        run(engine, "code,kind,name\nxa-b,commune,Xã B\n")

        renamed: list[str] = []

        def committed() -> None:  # once, between the two chunks
            if not renamed:
                with write_lock(engine), Session(engine) as session:
                    renamed.append(service.update_unit(session, "xa-b",
                                                       UnitUpdate(name="Xã Bê"), by=SEED).name)

        report = run(engine, "code,kind,name\nxa-a,commune,Xã A\nxa-b,commune,Xã B\n",
                     chunk=1, committed=committed)
        assert (report.created, report.updated, report.problems) == (1, 1, [])
        assert units(engine)["Xã B"].code == "xa-b"


class TestInterruptions:
    def test_a_service_stopping_ends_the_job_between_chunks(self, engine) -> None:
        received = upload(csv_of([f"Xã Số {n}" for n in range(5)]).encode())
        job = importing.start(engine, received, good_rows=False, active_from=START)
        written: list[int] = []
        ended = importing.run(engine, job.id, received, by=SEED, chunk=2,
                              committed=lambda: written.append(1),
                              stopping=lambda: len(written) == 2)
        assert ended.state == "interrupted" and ended.finished_at is not None
        assert (ended.created, ended.rows_written, ended.rows_total) == (4, 4, 5)
        assert not received.path.exists()
        assert count(engine, UnitImportRow) == 1  # left for the next import to drop
        assert run(engine, csv_of([f"Xã Số {n}" for n in range(5)])).created == 1
        assert count(engine, UnitImportRow) == 0

    def test_a_chunk_the_database_refuses_is_written_one_row_at_a_time(
            self, engine, monkeypatch) -> None:
        def committed() -> None:  # a concurrent write that the checks miss, as on PostgreSQL
            if "Xã Cuối" not in units(engine):
                monkeypatch.setattr(importing._Writer, "_clash", lambda *_: None)
                with write_lock(engine), Session(engine) as session:
                    service.create_unit(session, UnitCreate(name="Xã Cuối", kind="commune",
                                                            code="xa-cuoi-khac"), by=SEED)

        report = run(engine, csv_of(["Xã A", "Xã B", "Xã C", "Xã Cuối"]), chunk=2,
                     committed=committed)
        assert [(p.line, p.reason) for p in report.problems] == [
            (5, "conflicts with a unit stored meanwhile")]
        assert (report.created, report.rejected) == (3, 1)
        assert count(engine, OutboxMessage) == 4  # three imported, one created meanwhile

    def test_a_failing_job_says_why_and_keeps_what_it_wrote(self, engine, monkeypatch) -> None:
        def broken(*_: object) -> None:
            raise RuntimeError("disk gone")

        received = upload(csv_of([f"Xã Số {n}" for n in range(5)]).encode())
        job = importing.start(engine, received, good_rows=False, active_from=START)
        calls: list[int] = []

        def committed() -> None:
            calls.append(1)
            monkeypatch.setattr(importing._Writer, "write", broken)

        with pytest.raises(RuntimeError):
            importing.run(engine, job.id, received, by=SEED, chunk=2, committed=committed)
        with Session(engine) as session:
            failed = importing.public(session.get(UnitImport, job.id))  # type: ignore[arg-type]
        assert failed.state == "failed" and "disk gone" in (failed.error or "")
        assert failed.report.created == 2 and failed.report.imported
        assert count(engine, UnitImportRow) == 0


@pytest.fixture
def registry(engine) -> TestClient:
    return client(router, engine)


def post(registry: TestClient, body: bytes, *, query: str = "", **headers: str) -> Any:
    return registry.post(f"/v1/units/import{query}", content=body, headers=ADMIN | headers)


class TestImportJobs:
    def test_a_small_file_is_answered_when_imported_and_names_its_job(self, registry) -> None:
        answer = post(registry, csv_of(["Xã A", "Xã B"]).encode())
        assert answer.status_code == 200 and answer.json()["created"] == 2
        job = registry.get(answer.headers["content-location"], headers=ADMIN).json()
        assert job["state"] == "done" and job["report"] == answer.json()
        assert job["progress"] == {"rows_checked": 2, "rows_total": 2, "rows_to_write": 2,
                                   "rows_written": 2}

    def test_a_large_file_becomes_a_job_that_reports_progress_and_result(
            self, registry, monkeypatch) -> None:
        monkeypatch.setattr(api, "DIRECT_BYTES", 100)
        body = csv_of([f"Xã Số {n}" for n in range(20)]).encode()
        accepted = post(registry, body)
        assert accepted.status_code == 202, accepted.text
        started = accepted.json()
        assert started["state"] == "checking" and started["size_bytes"] == len(body)
        assert accepted.headers["location"] == f"/v1/units/imports/{started['id']}"
        job = registry.get(accepted.headers["location"], headers=ADMIN).json()
        assert job["state"] == "done" and job["report"]["created"] == 20
        assert job["progress"]["rows_written"] == job["progress"]["rows_total"] == 20
        assert job["finished_at"] is not None

    def test_prefer_respond_async_makes_any_file_a_job(self, registry) -> None:
        accepted = post(registry, csv_of(["Xã A"]).encode(), prefer="respond-async, wait=5")
        assert accepted.status_code == 202
        assert accepted.headers["preference-applied"] == "respond-async"

    def test_a_refused_job_keeps_its_capped_report(self, registry) -> None:
        body = csv_of([f"Thôn {n}" for n in range(150)]).replace("commune", "village")
        accepted = post(registry, body.encode(), prefer="respond-async")
        job = registry.get(accepted.headers["location"], headers=ADMIN).json()
        assert job["state"] == "refused" and job["report"]["imported"] is False
        problems = job["report"]["problems"]
        assert len(problems) == 101 and problems[-1]["line"] == 102
        assert problems[-1]["reason"] == "50 more problems not listed, from this line on"

    def test_an_unknown_import_is_not_found(self, registry) -> None:
        answer = registry.get("/v1/units/imports/imp_nothing", headers=ADMIN)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "import_not_found"

    def test_only_the_admin_follows_imports(self, registry) -> None:
        answer = post(registry, csv_of(["Xã A"]).encode())
        where = answer.headers["content-location"]
        assert registry.get(where, headers=bearer("lanh-dao")).status_code == 403
        assert registry.post("/v1/units/import", headers=bearer("lanh-dao"),
                             content=b"kind,name\n").status_code == 403

    def test_a_job_that_stopped_moving_reads_as_interrupted_and_is_tidied(
            self, registry, engine) -> None:
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        with Session(engine) as session:
            session.add(UnitImport(id="imp_cut", state="writing", good_rows=False,
                                   active_from=START, size_bytes=10, updated_at=long_ago))
            session.add(UnitImportRow(import_id="imp_cut", line=2, code="xa-a"))
            session.commit()
        assert registry.get("/v1/units/imports/imp_cut",
                            headers=ADMIN).json()["state"] == "interrupted"
        post(registry, csv_of(["Xã A"]).encode())  # a new import tidies what was left
        assert count(engine, UnitImportRow) == 0
        with Session(engine) as session:
            assert session.get(UnitImport, "imp_cut").state == "interrupted"  # type: ignore[union-attr]

    def test_a_file_over_the_limit_is_refused_as_it_streams_and_leaves_nothing(
            self, registry, monkeypatch, tmp_path) -> None:
        monkeypatch.setattr(api, "MAX_IMPORT_BYTES", 1000)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        declared = post(registry, b"x" * 1001)
        assert declared.status_code == 413

        def chunks():  # no content-length: refused once the stream passes the limit
            yield b"kind,name\n"
            yield b"x" * 2000

        streamed = registry.post("/v1/units/import", headers=ADMIN, content=chunks())
        assert streamed.status_code == 413
        assert list(tmp_path.glob("unit-import-*")) == []

    def test_the_openapi_document_describes_the_job(self, registry) -> None:
        paths = registry.app.openapi()["paths"]
        answers = paths["/v1/units/import"]["post"]["responses"]
        assert answers["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/UnitImportPublic")
        assert {"200", "401", "403", "413", "422"} <= set(answers)
        assert set(paths["/v1/units/imports/{import_id}"]["get"]["responses"]) >= {
            "200", "401", "403", "404"}
