"""Bulk import of units from CSV, streamed: memory stays bounded whatever the file's size.

Rows match existing units by code when the file gives one, else by name (accent placement
ignored), so importing the same file twice changes nothing.

The body goes to a temporary file on disk as it arrives (checked as UTF-8 on the way, so a
bad byte is reported on its line), and the import is a job, a row of `unit_imports`, that
two passes over the file advance, CHUNK rows at a time:

1. Checking: each row is validated, matched with the unit it updates and given its code,
   and staged in `unit_import_rows` with what it claims (its name's key, its code, its admin
   code) and, if it passed, its columns; one short transaction per chunk, with the job's
   progress. A later row is checked against the earlier ones there, in the database, so
   nothing held in memory grows with the file.
2. Writing, only if checking found nothing wrong (or `good_rows` was asked and the header
   and the CSV itself are sound): the staged rows, in file order, become units, each with
   its snapshot in the outbox, and leave the staging table, one transaction per chunk.
   Between chunks the write lock (services.database.write_lock: SQLite has one writer) is
   free, so another registry write waits for one chunk at most, never for the file.

Memory: one chunk's rows and one file buffer, whatever the file's size. At 100,000 rows
(7 MB of CSV) the registry's resident memory peaked at 111 MB, from 95 MB idle; the import
took 103 s, and a unit created meanwhile waited 77 ms at the median, 336 ms at most
(`python -m bench.import`, on a shared 2-core machine). A large file is a job that the
caller follows (`GET /v1/units/imports/{id}`); a small one is answered when imported.

Why check everything first, rather than write the file in one transaction: one transaction
for 100,000 rows holds SQLite's one writer for all of it (every other write times out
meanwhile) and holds every row in the session. Checking first keeps "a file with a bad row
imports nothing" true of the file: whatever is wrong in it is found before a row is written.
Why a staging table rather than sets of names and codes in memory: they would grow with
the file, and the staged rows are what the writing pass reads back, already decided.

What checking cannot foresee is another writer: a unit created, renamed or deleted between
the two passes. Each chunk is checked again as it is written, under the write lock, and a
row that such a change would now break is refused on its line (`rejected`) while the rest is
written; where the database itself refuses (a concurrent writer on PostgreSQL, which has no
write lock), the chunk is written again one row at a time. A job cut short keeps the chunks
it committed and reads as `interrupted`: when the service stops, the job ends between two
chunks; when its process died, once it has not moved for STALE. Importing the same file
again completes it, since a row that matches its unit changes nothing.

The CSV is read strictly (csv's `strict`): a quote left open no longer swallows the rest of
the file into one cell. A row the csv module cannot read ends the checking and refuses the
file, reported on the line where that row begins, since what follows it cannot be trusted.
"""

import codecs
import csv
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

import structlog
from pydantic import ValidationError
from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.bus.outbox import enqueue_raw
from services.database import raw_in, write_lock
from services.events import UNITS, UnitChannels, UnitContacts, UnitSnapshot
from services.refusals import MAX_LISTED, NotFound, TooLarge, left_off
from services.registry import audit, service
from services.registry.audit import Actor
from services.registry.models import AuditEntry, Unit, UnitImport, UnitImportRow
from services.registry.names import name_key, slug
from services.registry.schemas import (
    ImportProblem,
    ImportReport,
    UnitCreate,
    UnitImportProgress,
    UnitImportPublic,
    UnitImportState,
)

log = structlog.get_logger()
REQUIRED = ("kind", "name")
OPTIONAL = ("code", "admin_code", "parent", "active_from", "active_until",
            *service.CONTACT_FIELDS, *service.CHANNEL_FIELDS)
KNOWN = frozenset(REQUIRED + OPTIONAL)
# Rows per transaction. The write lock is held for a chunk's re-check, inserts and commit:
# on a busy 2-core machine, chunks of 500 rows held it 144 ms at the median (393 ms at most)
# where chunks of 2,000 held it 510 ms (2.1 s), for the same time in all.
CHUNK = 500
IN_LIST = 500  # values per IN (...) of a look-up (see _where_in)
STALE = timedelta(minutes=5)  # a running import that has not moved for this long was cut short
RUNNING = frozenset({UnitImportState.checking, UnitImportState.writing})
State = UnitImportState


# --- receiving ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A body received into a temporary file, and the first byte of it that is not UTF-8."""

    path: Path
    size: int
    not_utf8: ImportProblem | None = None


def too_large(limit: int) -> TooLarge:
    """The refusal of a file over the size limit."""
    return TooLarge("too_large", f"the file exceeds {limit} bytes")


async def receive(chunks: AsyncIterable[bytes], *, limit: int,
                  declared: str | None = None) -> Upload:
    """Write a body to a temporary file as it arrives; TooLarge as soon as it is known to
    exceed `limit` bytes (declared or received)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    check, size = _Utf8Check(), 0
    handle = tempfile.NamedTemporaryFile(prefix="unit-import-", suffix=".csv", delete=False)
    try:
        with handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                check.feed(chunk)
                handle.write(chunk)
            check.feed(b"", final=True)
    except BaseException:
        os.unlink(handle.name)
        raise
    return Upload(Path(handle.name), size, check.problem)


class _Utf8Check:
    """Decodes a file as it goes by, to name the line of its first byte that is not UTF-8."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._line = 1
        self.problem: ImportProblem | None = None

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if self.problem is not None:
            return
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:  # exc.object: the bytes held back, then `chunk`
            line = self._line + exc.object[:exc.start].count(b"\n")
            self.problem = ImportProblem(line=line, field="file",
                                         reason=f"not UTF-8: {exc.reason}")
            return
        self._line += chunk.count(b"\n")


# --- the job -----------------------------------------------------------------------------


def start(engine: Engine, upload: Upload, *, good_rows: bool, active_from: date) -> UnitImport:
    """Register the import of a received file; `run` runs it."""
    job = UnitImport(id=f"imp_{secrets.token_hex(8)}", state=State.checking,
                     good_rows=good_rows, active_from=active_from, size_bytes=upload.size)
    try:
        with write_lock(engine), Session(engine, expire_on_commit=False) as session:
            _tidy(session)
            session.add(job)
            session.commit()
    except BaseException:
        upload.path.unlink(missing_ok=True)
        raise
    log.info("units.import_started", import_id=job.id, size_bytes=upload.size)
    return job


def run(engine: Engine, import_id: str, upload: Upload, *, by: Actor,
        committed: Callable[[], object] = lambda: None,
        stopping: Callable[[], bool] = lambda: False, chunk: int = CHUNK) -> UnitImport:
    """Check the received file, then write it unless it is refused; the job as it ended.
    Each unit it creates or changes is recorded in the audit trail as made by `by`.
    `committed` is called after each transaction that queued events (to wake the relay);
    `stopping`, before each chunk: once true, the job ends there, interrupted."""
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(UnitImport, import_id)
    assert job is not None
    job_run = _Run(engine, job, committed, stopping, chunk, by)
    try:
        job_run.check(upload)
        if job_run.refuses():
            job_run.finish(State.refused)
        else:
            job_run.write()
            job_run.finish(State.done)
    except _Stopped:  # its staged rows are left for the next import to drop (_tidy)
        job_run.end(State.interrupted)
    except Exception as exc:
        log.exception("units.import_failed", import_id=import_id)
        job_run.fail(exc)
        raise
    finally:
        upload.path.unlink(missing_ok=True)
    return job_run.job


def run_detached(engine: Engine, import_id: str, upload: Upload, *, by: Actor,
                 committed: Callable[[], object] = lambda: None,
                 stopping: Callable[[], bool] = lambda: False) -> None:
    """`run`, for a job nobody waits for: a failure is logged and kept on the job."""
    try:
        run(engine, import_id, upload, by=by, committed=committed, stopping=stopping)
    except Exception:
        pass  # logged, and the job's state says failed


def get_or_raise(session: Session, import_id: str) -> UnitImportPublic:
    """An import's progress and report, or NotFound."""
    job = session.get(UnitImport, import_id)
    if job is None:
        raise NotFound("import_not_found", f"no import with id {import_id!r}")
    return public(job)


def public(job: UnitImport) -> UnitImportPublic:
    """The API view of an import; one that stopped moving while it ran was cut short."""
    return UnitImportPublic(
        id=job.id, state=state_of(job), good_rows=job.good_rows, active_from=job.active_from,
        size_bytes=job.size_bytes, progress=UnitImportProgress(
            rows_checked=job.rows_checked, rows_total=job.rows_total,
            rows_to_write=job.rows_to_write, rows_written=job.rows_written),
        report=report(job), error=job.error, created_at=job.created_at,
        updated_at=job.updated_at, finished_at=job.finished_at)


def state_of(job: UnitImport) -> UnitImportState:
    """The job's state; `interrupted` for a running one that has not moved for STALE."""
    state = State(job.state)
    if state in RUNNING and _utc(job.updated_at) < datetime.now(UTC) - STALE:
        return State.interrupted
    return state


def report(job: UnitImport) -> ImportReport:
    """The job's counts and problems: the first MAX_LISTED, then one counting the rest."""
    problems = [ImportProblem.model_validate(p) for p in job.problems]
    if job.problems_left_off:  # left_off counts what it is given: a range is as long
        problems.append(ImportProblem(
            line=job.left_off_from or 0, field="",
            reason=f"{left_off(range(job.problems_left_off))}, from this line on"))
    return ImportReport(imported=job.state == State.done or job.created + job.updated > 0,
                        created=job.created, updated=job.updated, unchanged=job.unchanged,
                        rejected=job.rejected, problems=problems)


def _tidy(session: Session) -> None:
    """Imports cut short are marked so, and their staged rows dropped."""
    session.execute(update(UnitImport).where(
        col(UnitImport.state).in_(RUNNING), col(UnitImport.updated_at) < _now() - STALE)
        .values(state=State.interrupted))
    interrupted = select(UnitImport.id).where(UnitImport.state == State.interrupted)
    session.execute(delete(UnitImportRow).where(
        col(UnitImportRow.import_id).in_(interrupted)))


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class _Outcome:
    """What one transaction of a job adds to its report."""

    problems: list[ImportProblem] = field(default_factory=list)
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def refuse(self, line: int, column: str, reason: str) -> None:
        """One row refused, for one reason."""
        self.problems.append(ImportProblem(line=line, field=column, reason=reason))
        self.rejected += 1


class _Stopped(Exception):
    """The service is stopping: the job ends between two chunks."""


class _Unreadable(Exception):
    """A row the csv module cannot read."""

    def __init__(self, problem: ImportProblem) -> None:
        self.problem = problem


class _Run:
    """One run of a job: its two passes, each transaction advancing the job's row."""

    def __init__(self, engine: Engine, job: UnitImport, committed: Callable[[], object],
                 stopping: Callable[[], bool], chunk: int, by: Actor) -> None:
        self.engine, self.job, self.committed, self.chunk = engine, job, committed, chunk
        self.stopping, self.by = stopping, by
        self.fatal = False  # the header, the encoding or the CSV itself is wrong
        self.to_write = 0

    # checking

    def check(self, upload: Upload) -> None:
        if upload.not_utf8 is not None:
            return self._refuse_file([upload.not_utf8])
        with upload.path.open(encoding="utf-8-sig", newline="") as text:
            rows = _rows(csv.reader(text, strict=True))
            try:
                line, header = next(rows, (1, []))
                if not self._header_ok(line, header):
                    return
                while batch := list(islice(rows, self.chunk)):
                    self._go_on()
                    self._check_chunk(header, batch)
            except _Unreadable as exc:
                return self._refuse_file([exc.problem])
        self._commit(rows_total=self.job.rows_checked, rows_to_write=self.to_write)

    def refuses(self) -> bool:
        return self.fatal or (bool(self.job.rejected) and not self.job.good_rows)

    def _refuse_file(self, problems: list[ImportProblem]) -> None:
        self.fatal = True
        self._commit(_Outcome(problems))

    def _header_ok(self, line: int, columns: list[str]) -> bool:
        problems = [ImportProblem(line=line, field=column, reason="required column missing")
                    for column in REQUIRED if column not in columns]
        seen: set[str] = set()
        for column in columns:
            reason = "unknown column" if column not in KNOWN else (
                "column given twice" if column in seen else None)
            if reason is not None:
                problems.append(ImportProblem(line=line, field=column, reason=reason))
            seen.add(column)
        if problems:
            self._refuse_file(problems)
        return not problems

    def _check_chunk(self, header: list[str], batch: list[tuple[int, list[str]]]) -> None:
        outcome = _Outcome()
        with Session(self.engine) as session:
            rows = _Row.named(session, self.job.id, header, batch, outcome)
            valid = [row for row in rows if row.validate(outcome)]
            known = _Known.look_up(session, self.job.id, valid)
            for row in valid:
                row.resolve(known, self.job.active_from, outcome)
        staged = [dict(vars(row.staged)) for row in rows if row.staged.claims()]
        self.to_write += sum(row.staged.changes is not None for row in rows)
        with write_lock(self.engine), Session(self.engine) as session:
            if staged:
                session.execute(_insert(UnitImportRow), staged)
            self._commit(outcome, session=session,
                         rows_checked=self.job.rows_checked + len(batch))

    # writing

    def write(self) -> None:
        self._commit(state=State.writing)
        after = 0
        while rows := self._staged(after):
            self._go_on()
            self._write_chunk(rows)
            after = rows[-1].line

    def _go_on(self) -> None:
        if self.stopping():
            raise _Stopped

    def _staged(self, after: int) -> list["_Staged"]:
        with Session(self.engine) as session:
            found = session.exec(
                select(*(getattr(UnitImportRow, name) for name in _Staged.COLUMNS)).where(
                    UnitImportRow.import_id == self.job.id,
                    col(UnitImportRow.changes).is_not(None), UnitImportRow.line > after)
                .order_by(col(UnitImportRow.line)).limit(self.chunk)).all()
        return [_Staged(self.job.id, *row) for row in found]

    def _write_chunk(self, rows: list["_Staged"]) -> None:
        try:
            self._write_rows(rows)
        except IntegrityError:  # a unit stored meanwhile, between the checks and the commit
            for row in rows:
                try:
                    self._write_rows([row])
                except IntegrityError:
                    self._write_rows([row], clashed=True)

    def _write_rows(self, rows: list["_Staged"], *, clashed: bool = False) -> None:
        outcome = _Outcome()
        writer = _Writer(rows, self.job.active_from, outcome, self.by, self.job.id)
        with write_lock(self.engine), Session(self.engine) as session:
            if clashed:
                outcome.refuse(rows[0].line, "name", "conflicts with a unit stored meanwhile")
            else:
                writer.write(session)
            session.execute(delete(UnitImportRow).where(
                col(UnitImportRow.import_id) == self.job.id,
                col(UnitImportRow.line) >= rows[0].line,
                col(UnitImportRow.line) <= rows[-1].line))
            self._commit(outcome, session=session,
                         rows_written=self.job.rows_written + len(rows))
        self.committed()

    # ending

    def finish(self, state: UnitImportState) -> None:
        self._unstage()
        self.end(state)

    def end(self, state: UnitImportState) -> None:
        self._commit(state=state, finished_at=_now())
        job = self.job
        log.info("units.import_ended", import_id=job.id, state=state, created=job.created,
                 updated=job.updated, unchanged=job.unchanged, rejected=job.rejected)

    def fail(self, exc: Exception) -> None:
        try:
            self._unstage()
            self._commit(state=State.failed, error=repr(exc)[:2000], finished_at=_now())
        except Exception:  # the database itself may be what failed
            log.exception("units.import_not_recorded", import_id=self.job.id)

    def _unstage(self) -> None:
        """Drop the job's staged rows, a chunk per transaction."""
        while True:
            with write_lock(self.engine), Session(self.engine) as session:
                lines = session.exec(select(UnitImportRow.line).where(
                    UnitImportRow.import_id == self.job.id).order_by(
                    col(UnitImportRow.line)).limit(self.chunk)).all()
                if not lines:
                    return
                session.execute(delete(UnitImportRow).where(
                    col(UnitImportRow.import_id) == self.job.id,
                    col(UnitImportRow.line) <= lines[-1]))
                session.commit()

    def _commit(self, outcome: _Outcome | None = None, *, session: Session | None = None,
                **changes: Any) -> None:
        """Advance the job's row by `outcome` and `changes` and commit (in `session`, with
        what it holds, or alone); the job in memory follows only once committed."""
        changes |= _advanced(self.job, outcome or _Outcome()) | {"updated_at": _now()}
        if session is None:
            with write_lock(self.engine), Session(self.engine) as alone:
                return self._commit_in(alone, changes)
        self._commit_in(session, changes)

    def _commit_in(self, session: Session, changes: dict[str, Any]) -> None:
        session.execute(update(UnitImport).where(col(UnitImport.id) == self.job.id)
                        .values(**changes))
        session.commit()
        for name, value in changes.items():
            setattr(self.job, name, value)


def _advanced(job: UnitImport, outcome: _Outcome) -> dict[str, Any]:
    """The job's counters and problems with an outcome added; the list stops at MAX_LISTED
    and counts the rest, as services.refusals.capped would, without keeping them."""
    changes: dict[str, Any] = {name: getattr(job, name) + getattr(outcome, name) for name in
                               ("rejected", "created", "updated", "unchanged")}
    room = MAX_LISTED - len(job.problems)
    listed, rest = outcome.problems[:max(room, 0)], outcome.problems[max(room, 0):]
    if listed:
        changes["problems"] = [*job.problems, *(p.model_dump() for p in listed)]
    if rest:
        changes["problems_left_off"] = job.problems_left_off + len(rest)
        changes["left_off_from"] = job.left_off_from or rest[0].line
    return changes


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each row that is not blank, with the line it begins on (a quoted cell may hold line
    breaks). A row the csv module cannot read is reported where it begins."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _Unreadable(_unreadable(line, reader.line_num, exc)) from None
        if row:
            yield line, row


def _unreadable(line: int, last: int, exc: csv.Error) -> ImportProblem:
    reason = str(exc)
    if reason == "unexpected end of data":  # strict: the file ends inside a quoted cell
        reason = "a quote opened in this row is never closed"
    elif last != line:
        reason = f"{reason} (the row runs from here to line {last})"
    return ImportProblem(line=line, field="file", reason=f"CSV: {reason}")


def _digest(key: str) -> str | None:
    """A name's key, staged at a fixed size: a cell may be far longer than a name."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest() if key else None


def _insert(table: type) -> Any:
    """A bulk insert of rows that all give every column: SQLAlchemy's ORM otherwise sends
    one statement per pattern of NULLs, which makes every few rows a statement of its own."""
    return insert(table).execution_options(render_nulls=True)


def _snapshot(columns: dict[str, Any]) -> bytes:
    """service.unit_snapshot, for a unit created from its columns and never made a Unit:
    most of a large import is new units, and a Unit, then the UnitPublic the snapshot goes
    through (which validates every address again) cost more than the row's whole writing.
    tests/unit/test_importing.py checks that the two agree."""
    return UnitSnapshot(
        code=columns["code"], name=columns["name"], kind=columns["kind"],
        admin_code=columns["admin_code"], parent=columns["parent"],
        active_from=columns["active_from"], active_until=columns["active_until"],
        revision=columns["revision"],
        updated_at=columns["updated_at"],
        webhook_secret_generation=columns["webhook_secret_generation"],
        contacts=UnitContacts(**{k: columns[k] for k in service.CONTACT_FIELDS}),
        channels=UnitChannels(**{k: columns[k] for k in service.CHANNEL_FIELDS}),
    ).model_dump_json().encode()


def _column(loc: tuple[Any, ...]) -> str:
    names = [str(p) for p in loc if str(p) not in ("contacts", "channels")]
    return names[0] if names else "row"


def _span_problem(changes: dict[str, Any], active_from: date,
                  active_until: date | None) -> str | None:
    """Why a unit's active span would end before it begins, with these changes."""
    start = changes.get("active_from") or active_from
    end = changes.get("active_until", active_until)
    return "active_until must not be before active_from" if end and end < start else None


def _dumped(changes: dict[str, Any]) -> str:
    return json.dumps(changes, default=date.isoformat, ensure_ascii=False)


def _loaded(text: str) -> dict[str, Any]:
    changes = json.loads(text)
    for name in ("active_from", "active_until"):
        if changes.get(name) is not None:
            changes[name] = date.fromisoformat(changes[name])
    return changes


# --- checking a chunk --------------------------------------------------------------------


@dataclass
class _Staged:
    """A row of `unit_import_rows` (see models.UnitImportRow), as the passes use it."""

    COLUMNS: ClassVar = ("line", "name_digest", "code", "admin_code", "matched", "changes")
    import_id: str
    line: int
    name_digest: str | None = None
    code: str | None = None
    admin_code: str | None = None
    matched: bool = False
    changes: str | None = None

    def claims(self) -> bool:
        """Whether the row is worth staging: it claims a name or a code, or is written."""
        return bool(self.name_digest or self.code or self.changes)


@dataclass
class _Row:
    """A row being checked, and what it stages."""

    line: int
    cells: dict[str, str]  # trimmed, non-empty
    key: str
    staged: _Staged
    extra_cells: bool = False
    data: UnitCreate | None = None

    @classmethod
    def named(cls, session: Session, import_id: str, header: list[str],
              batch: list[tuple[int, list[str]]], outcome: _Outcome) -> list["_Row"]:
        """The chunk's rows but those repeating an earlier row's name, which each claim
        their name: names repeat across rows even when one of them is bad otherwise."""
        rows = [cls.of(import_id, header, line, cells) for line, cells in batch]
        digests = [row.staged.name_digest for row in rows if row.staged.name_digest]
        seen: dict[str | None, int] = dict(_where_in(session, select(
            UnitImportRow.name_digest, UnitImportRow.line).where(
            UnitImportRow.import_id == import_id), col(UnitImportRow.name_digest), digests))
        kept = []
        for row in rows:
            digest = row.staged.name_digest
            if digest is not None and digest in seen:
                outcome.refuse(row.line, "name", f"same name as line {seen[digest]}")
                continue
            if digest is not None:
                seen[digest] = row.line
            kept.append(row)
        return kept

    @classmethod
    def of(cls, import_id: str, header: list[str], line: int, cells: list[str]) -> "_Row":
        given = {column: cell.strip() for column, cell in zip(header, cells, strict=False)
                 if cell and cell.strip()}
        key = name_key(given.get("name", ""))
        return cls(line, given, key, _Staged(import_id, line, _digest(key)),
                   extra_cells=len(cells) > len(header))

    @cached_property
    def made_codes(self) -> tuple[str, str]:
        """The codes the name makes: plain, then keeping tones (names.slug, tone_slug)."""
        assert self.data is not None
        return slug(self.data.name), slug(self.key)  # tone_slug, from the key at hand

    def validate(self, outcome: _Outcome) -> bool:
        if self.extra_cells:
            outcome.refuse(self.line, "row", "more cells than columns")
            return False
        body: dict[str, Any] = {k: v for k, v in self.cells.items()
                                if k not in service.CONTACT_FIELDS
                                and k not in service.CHANNEL_FIELDS}
        body["contacts"] = {k: self.cells[k] for k in service.CONTACT_FIELDS if k in self.cells}
        body["channels"] = {k: self.cells[k] for k in service.CHANNEL_FIELDS if k in self.cells}
        try:
            self.data = UnitCreate.model_validate(body)
        except ValidationError as exc:
            outcome.problems.extend(ImportProblem(line=self.line, field=_column(err["loc"]),
                                                  reason=err["msg"]) for err in exc.errors())
            outcome.rejected += 1
            return False
        return True

    def resolve(self, known: "_Known", active_from: date, outcome: _Outcome) -> None:
        """Find the row's unit and code; stage its columns unless it clashes."""
        data = self.data
        assert data is not None
        existing = known.units.get(data.code) if data.code else known.by_key.get(self.key)
        code = data.code or (existing.code if existing else known.free_code(self))
        if code is None:
            made = ", ".join(c for c in self.made_codes if c) or "none"
            return outcome.refuse(self.line, "code", f"the codes this name makes ({made}) "
                                  "are taken; give a code")
        if code in known.codes:
            return outcome.refuse(self.line, "code",
                                  f"same code as line {known.codes[code]}; give a code")
        known.codes[code] = self.line
        self.staged.code, self.staged.matched = code, bool(data.code or existing)
        problem = known.clash(self, code) or self._span(existing, active_from)
        if problem is not None:
            return outcome.refuse(self.line, *problem)
        changes = service.unit_fields(data, partial=True)
        self.staged.admin_code, self.staged.changes = data.admin_code, _dumped(changes)
        if data.admin_code:
            known.admin_codes[data.admin_code] = self.line

    def _span(self, existing: Unit | None, active_from: date) -> tuple[str, str] | None:
        assert self.data is not None
        changes = self.data.model_dump(include={"active_from", "active_until"},
                                       exclude_none=True)
        problem = (_span_problem(changes, existing.active_from, existing.active_until)
                   if existing is not None else _span_problem(changes, active_from, None))
        return ("active_until", problem) if problem else None


@dataclass
class _Known:
    """What a chunk's valid rows are checked against: the units they may name or clash
    with, and the codes and admin codes that earlier rows of the file claimed."""

    units: dict[str, Unit]  # by code: the codes rows give, and those they may be given
    by_key: dict[str, Unit]
    admin_holders: dict[str, str]  # admin code -> unit code
    codes: dict[str, int]  # claimed in the file: code -> line
    admin_codes: dict[str, int]

    @classmethod
    def look_up(cls, session: Session, import_id: str, rows: list[_Row]) -> "_Known":
        data = [row.data for row in rows if row.data is not None]
        keys = {row.key for row in rows}
        codes = {d.code for d in data if d.code} | {
            c for row in rows if row.data and not row.data.code for c in row.made_codes if c}
        by_key = {u.name_key: u for u in _units(session, col(Unit.name_key), keys)}
        units = {u.code: u for u in _units(session, col(Unit.code), codes)}
        admins = {d.admin_code for d in data if d.admin_code}
        admin_holders = {u.admin_code: u.code for u in _units(session, col(Unit.admin_code),
                                                               admins) if u.admin_code}
        staged = select(UnitImportRow).where(UnitImportRow.import_id == import_id)
        claimed = codes | {u.code for u in by_key.values()}
        return cls(units, by_key, admin_holders, _lines(session, staged, "code", claimed),
                   _lines(session, staged, "admin_code", admins))

    def free_code(self, row: _Row) -> str | None:
        """A code made from the name, neither stored nor claimed earlier in the file."""
        for candidate in row.made_codes:
            if candidate and candidate not in self.codes and candidate not in self.units:
                return candidate
        return None

    def clash(self, row: _Row, code: str) -> tuple[str, str] | None:
        """The name or admin code of another unit, or of an earlier row."""
        holder = self.by_key.get(row.key)
        if holder is not None and holder.code != code:
            return "name", f"unit {holder.code} already has this name"
        admin_code = row.data.admin_code if row.data else None
        if admin_code is None:
            return None
        if admin_code in self.admin_codes:
            return "admin_code", f"same admin code as line {self.admin_codes[admin_code]}"
        other = self.admin_holders.get(admin_code)
        if other is not None and other != code:
            return "admin_code", f"unit {other} already has this admin code"
        return None


def _units(session: Session, column: Any, values: Iterable[str]) -> list[Unit]:
    return _where_in(session, select(Unit), column, values)


def _lines(session: Session, staged: Any, name: str, values: set[str]) -> dict[str, int]:
    """The lines of the file's earlier rows that claimed these values of column `name`."""
    found = _where_in(session, staged, col(getattr(UnitImportRow, name)), values)
    return {getattr(row, name): row.line for row in found}


def _where_in(session: Session, query: Any, column: Any, values: Iterable[Any]) -> list[Any]:
    """The rows of `query` whose `column` is one of `values`, asked IN_LIST values at a
    time, the last list padded with a repeated value: the sqlite3 module keeps each
    distinct statement it ran prepared (128 per connection), and IN lists of every length
    held tens of megabytes, more as the file went on (bench/import, 100,000 rows: a peak of
    190 MB against 119 MB with one length, from 95 MB idle)."""
    values, found = list(values), []
    for at in range(0, len(values), IN_LIST):
        batch = values[at:at + IN_LIST]
        batch += batch[:1] * (IN_LIST - len(batch))
        found += session.exec(query.where(column.in_(batch))).all()
    return found


# --- writing a chunk ---------------------------------------------------------------------


_NOT_AUDITED = frozenset({"code", "webhook_secret_generation"})  # as service.unit_values


class _Writer:
    """Writes a chunk of staged rows. What can be made before taking the write lock is made
    then (the columns and snapshots of the units it expects to create); under the lock,
    each row is checked again against the units as they are now, since another writer may
    have changed them after the checking pass."""

    def __init__(self, rows: list[_Staged], active_from: date, outcome: _Outcome,
                 by: Actor, import_id: str) -> None:
        self.rows, self.active_from, self.outcome = rows, active_from, outcome
        self.by, self.note = by, f"import {import_id}"
        self.changes = [_loaded(row.changes or "{}") for row in rows]
        now = _now()
        self.new = {row.code: self._columns(row.code, changes, now)
                    for row, changes in zip(rows, self.changes, strict=True)
                    if row.code and not row.matched}
        self.snapshots = {code: _snapshot(columns) for code, columns in self.new.items()}
        self.created: list[dict[str, Any]] = []
        self.units: dict[str, Unit] = {}  # as they are now, by code (see _look_up)
        self.names: dict[str, str] = {}  # name key -> code
        self.admins: dict[str, str] = {}  # admin code -> code

    def write(self, session: Session) -> None:
        """Write the rows in `session`'s transaction (the caller holds the write lock)."""
        self._look_up(session)
        for row, changes in zip(self.rows, self.changes, strict=True):
            assert row.code is not None
            unit = self.units.get(row.code)
            if unit is not None and not (row.matched or unit.name_key == changes.get("name_key")):
                self.outcome.refuse(row.line, "code", f"unit {row.code} was registered "
                                    "meanwhile under another name; give a code")
            elif (problem := self._clash(row.code, changes, unit)) is not None:
                self.outcome.refuse(row.line, *problem)
            elif unit is None:
                self._create(row.code, changes)
            else:
                self._update(session, unit, changes)
        if self.created:
            session.execute(_insert(Unit), self.created)
            enqueue_raw(raw_in(session), UNITS, [(c["code"], self.snapshots.get(c["code"])
                                                  or _snapshot(c)) for c in self.created])
            session.execute(_insert(AuditEntry), [audit.row(
                self.by, "unit", c["code"], "imported", audit.values(
                    {k: v for k, v in c.items() if k not in _NOT_AUDITED}), note=self.note)
                | {"event_key": None} for c in self.created])

    def _look_up(self, session: Session) -> None:
        self.units = {u.code: u for u in _units(session, col(Unit.code),
                                                {row.code for row in self.rows if row.code})}
        keys = {c["name_key"] for c in self.changes if "name_key" in c}
        self.names = {u.name_key: u.code for u in _units(session, col(Unit.name_key), keys)}
        admins = {c["admin_code"] for c in self.changes if c.get("admin_code")}
        self.admins = {u.admin_code: u.code for u in _units(session, col(Unit.admin_code),
                                                             admins) if u.admin_code}

    def _clash(self, code: str, changes: dict[str, Any],
               unit: Unit | None) -> tuple[str, str] | None:
        holder = self.names.get(changes.get("name_key", ""))
        if holder is not None and holder != code:
            return "name", f"unit {holder} took this name meanwhile"
        other = self.admins.get(changes.get("admin_code") or "")
        if other is not None and other != code:
            return "admin_code", f"unit {other} took this admin code meanwhile"
        span = (_span_problem(changes, unit.active_from, unit.active_until) if unit
                else _span_problem(changes, self.active_from, None))
        return ("active_until", span) if span else None

    def _columns(self, code: str, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A new unit's columns, all of them (a bulk insert takes no defaults)."""
        return dict.fromkeys(Unit.model_fields) | changes | {
            "code": code, "active_from": changes.get("active_from") or self.active_from,
            "revision": 1, "created_at": now, "updated_at": now,
            "webhook_secret_generation": 1}

    def _create(self, code: str, changes: dict[str, Any]) -> None:
        self.created.append(self.new.get(code) or self._columns(code, changes, _now()))
        self.outcome.created += 1

    def _update(self, session: Session, unit: Unit, changes: dict[str, Any]) -> None:
        if changes.get("name_key") == unit.name_key:  # the other tone placement: no change
            changes = {k: v for k, v in changes.items() if k not in ("name", "name_key")}
        if before := service.apply_changes(unit, changes):
            service.stage_unit(session, unit, new=False)
            audit.record(session, self.by, "unit", unit.code, "updated",
                         service.changed(before, changes), note=self.note)
            self.outcome.updated += 1
        else:
            self.outcome.unchanged += 1
