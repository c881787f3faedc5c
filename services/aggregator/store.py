"""Aggregator queries and writes. Functions here never commit."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Table
from sqlmodel import Session, col, select

from services.aggregator.models import (
    ActivityCount,
    DailyBroadcast,
    PeriodFigures,
    PeriodReport,
    PeriodTotal,
    ReportVersion,
    UnitParent,
)
from services.database import RawConnection

Key = tuple[str, str, str]  # campaign, period, unit
HEADS: Table = PeriodReport.__table__  # type: ignore[attr-defined]
COUNTS: Table = ActivityCount.__table__  # type: ignore[attr-defined]
DAYS: Table = DailyBroadcast.__table__  # type: ignore[attr-defined]
FIGURES: Table = PeriodFigures.__table__  # type: ignore[attr-defined]
TOTALS: Table = PeriodTotal.__table__  # type: ignore[attr-defined]
PARENTS: Table = UnitParent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Standing:
    """What the fold needs of a key's standing report: its version, its timeliness, and
    the kind and parent it was counted under."""

    version: int
    first_received_at: datetime | None
    on_time: bool
    unit_kind: str
    unit_parent: str


def standing(db: RawConnection, keys: set[Key]) -> dict[Key, Standing]:
    """The standing report of each (campaign, period, unit) that has one."""
    columns = ("campaign_code", "period", "unit_code", "version", "first_received_at",
               "on_time", "unit_kind", "unit_parent")
    return {(campaign, period, unit): Standing(version, _utc(db.moment(first)), bool(on_time),
                                               kind, parent)
            for campaign, period, unit, version, first, on_time, kind, parent
            in _by_key(db, HEADS, columns, keys)}


TOTAL_KEY = ("campaign_code", "period", "unit_kind", "unit_parent", "kind", "platform",
             "format", "language", "channel")
TOTAL_FIGURES = ("count", "people_mobilised", "shares")


def standing_counts(db: RawConnection, keys: set[Key]) -> list[tuple[Any, ...]]:
    """What the standing reports of these keys count, as rows of TOTAL_KEY + TOTAL_FIGURES
    (to take away from the kept totals when they are replaced)."""
    return list(_by_key(db, COUNTS, TOTAL_KEY + TOTAL_FIGURES, keys))


_KEYS_A_QUERY = 512  # 1,536 parameters: well within every driver's limit


def _by_key(db: RawConnection, table: Table, columns: tuple[str, ...], keys: set[Key]
            ) -> Iterator[tuple[Any, ...]]:
    """The rows of a table keyed by (campaign, period, unit) that have one of these keys
    (the fold's hot path: in the driver's own SQL, as below). A query per _KEYS_A_QUERY
    keys, its list padded with a repeated key to a power of two: the sqlite3 module keeps
    each distinct statement prepared (128 per connection), so lists of every length would
    fill that with hundreds of large ones (as registry.importing._where_in found)."""
    ordered = sorted(keys)
    for at in range(0, len(ordered), _KEYS_A_QUERY):
        chunk = ordered[at:at + _KEYS_A_QUERY]
        chunk += chunk[:1] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
        yield from db.select(
            f"SELECT {', '.join(columns)} FROM {table.name} WHERE (campaign_code, period, "
            f"unit_code) IN (VALUES {', '.join(['(?, ?, ?)'] * len(chunk))})",
            [part for key in chunk for part in key])


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive, in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None \
        else moment


# The fold's writes, in the driver's own SQL: SQLAlchemy's work per row would cost more than
# the row.
HEAD_COLUMNS = ("campaign_code", "period", "unit_code", "unit_kind", "unit_parent",
                "report_id", "version", "on_time", "received_at", "first_received_at",
                "period_start", "period_end", "loudspeaker_total", "weekly_fails_on",
                "daily_fails_on", "judged_revision", "entered_by")
COUNT_COLUMNS = ("campaign_code", "period", "unit_code", "kind", "platform", "format",
                 "language", "channel", "unit_kind", "unit_parent", "count",
                 "people_mobilised", "shares")
DAY_COLUMNS = ("campaign_code", "unit_code", "day", "period", "count")
_TIMES = (HEAD_COLUMNS.index("received_at"), HEAD_COLUMNS.index("first_received_at"))
_KEY = "campaign_code = ? AND period = ? AND unit_code = ?"


def replace(db: RawConnection, heads: list[tuple[Any, ...]], counts: list[tuple[Any, ...]],
            days: list[tuple[Any, ...]]) -> None:
    """Put each key's new standing report in place of whatever it contributed before.
    Rows are tuples in the order of HEAD_COLUMNS, COUNT_COLUMNS and DAY_COLUMNS."""
    keys = [head[:3] for head in heads]
    db.many(f"DELETE FROM {COUNTS.name} WHERE {_KEY}", keys)
    db.many(f"DELETE FROM {DAYS.name} WHERE {_KEY}", keys)
    updates = ", ".join(f"{name} = excluded.{name}" for name in HEAD_COLUMNS[3:])
    db.many(f"{_insert(HEADS, HEAD_COLUMNS)} ON CONFLICT (campaign_code, period, unit_code) "
            f"DO UPDATE SET {updates}", [_stamped(db, head) for head in heads])
    db.many(_insert(COUNTS, COUNT_COLUMNS), counts)
    db.many(_insert(DAYS, DAY_COLUMNS), days)


VERSIONS: Table = ReportVersion.__table__  # type: ignore[attr-defined]
VERSION_COLUMNS = ("campaign_code", "period", "unit_code", "version", "recorded_at", "event")


def keep_versions(db: RawConnection, rows: list[tuple[Any, ...]]) -> None:
    """Keep each report version once (rows in the order of VERSION_COLUMNS): a redelivery
    adds nothing."""
    db.many(f"{_insert(VERSIONS, VERSION_COLUMNS)} ON CONFLICT (campaign_code, period, "
            "unit_code, version) DO NOTHING",
            [(*row[:4], db.timestamp(row[4]), row[5]) for row in rows])


def versions_as_of(session: Session, campaign: str, as_of: datetime
                   ) -> list[tuple[str, str, str]]:
    """Every version of a campaign's reports recorded by `as_of`, as (period, unit, event
    JSON), each (period, unit)'s newest first: the one that stands, unless it cannot be
    read (then the one before it, as the fold has it)."""
    v = VERSIONS.c
    rows = session.connection().execute(
        sa.select(v.period, v.unit_code, v.event)
        .where(v.campaign_code == campaign, v.recorded_at <= as_of)
        .order_by(v.period, v.unit_code, v.version.desc()))
    return [(period, unit, event) for period, unit, event in rows]


def versions_missing(session: Session, campaign: str) -> int:
    """Standing reports of a campaign with no kept version: those folded before versions
    were kept (aggregator migration 0007), until a rebuild reads them again."""
    v, h = VERSIONS.c, HEADS.c
    return session.connection().execute(
        sa.select(sa.func.count()).select_from(HEADS).where(
            h.campaign_code == campaign,
            ~sa.exists().where(v.campaign_code == h.campaign_code, v.period == h.period,
                               v.unit_code == h.unit_code))).scalar_one()


def shift(db: RawConnection, figures: list[tuple[Any, ...]],
          totals: list[tuple[Any, ...]]) -> None:
    """Add to the kept figures: rows (campaign, period, unit kind, parent, reported, on
    time) and rows of TOTAL_KEY + TOTAL_FIGURES, each a difference (negative for what a
    replaced report had counted). Every figures row given gets a new revision."""
    db.many(f"INSERT INTO {FIGURES.name} (campaign_code, period, unit_kind, unit_parent, "
            "reported, on_time, revision) VALUES (?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (campaign_code, period, unit_kind, unit_parent) "
            f"DO UPDATE SET reported = {FIGURES.name}.reported + excluded.reported, "
            f"on_time = {FIGURES.name}.on_time + excluded.on_time, "
            f"revision = {FIGURES.name}.revision + 1", figures)
    sums = ", ".join(f"{name} = {TOTALS.name}.{name} + excluded.{name}"
                     for name in TOTAL_FIGURES)
    db.many(f"{_insert(TOTALS, TOTAL_KEY + TOTAL_FIGURES)} ON CONFLICT ({', '.join(TOTAL_KEY)}) "
            f"DO UPDATE SET {sums}", totals)


def bump(db: RawConnection, campaign: str, periods: Iterable[str]) -> None:
    """A new revision for these periods' figures (their verdicts changed)."""
    db.many(f"UPDATE {FIGURES.name} SET revision = revision + 1 WHERE campaign_code = ? "
            "AND period = ?", [(campaign, period) for period in periods])


def _stamped(db: RawConnection, head: tuple[Any, ...]) -> tuple[Any, ...]:
    """A head row with its timestamps as the database takes them."""
    row = list(head)
    for at in _TIMES:
        if row[at] is not None:
            row[at] = db.timestamp(row[at])
    return tuple(row)


def _insert(table: Table, columns: tuple[str, ...]) -> str:
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})")


def reported(session: Session, campaign: str, period: str) -> dict[str, bool]:
    """The units that reported for a period, and whether each was on time (its first report
    by the deadline)."""
    c = HEADS.c
    query = sa.select(c.unit_code, c.on_time).where(c.campaign_code == campaign,
                                                    c.period == period)
    return {unit_code: bool(on_time) for unit_code, on_time in session.execute(query)}


def unit_reports(session: Session, campaign: str, unit: str) -> Sequence[PeriodReport]:
    query = select(PeriodReport).where(PeriodReport.campaign_code == campaign,
                                       PeriodReport.unit_code == unit)
    return session.exec(query.order_by(col(PeriodReport.period))).all()


def unit_counts(session: Session, campaign: str, unit: str, periods: Iterable[str]
                ) -> Sequence[ActivityCount]:
    """What a unit's standing reports of these periods count (read by their keys)."""
    keys = [(campaign, period, unit) for period in periods]
    if not keys:
        return []
    query = select(ActivityCount).where(sa.tuple_(
        col(ActivityCount.campaign_code), col(ActivityCount.period),
        col(ActivityCount.unit_code)).in_(keys))
    return session.exec(query).all()


def counts(session: Session, campaign: str, *, period: str) -> Sequence[ActivityCount]:
    """Every count row of a period (the whole period: for checks, not for feeds)."""
    query = select(ActivityCount).where(ActivityCount.campaign_code == campaign,
                                        ActivityCount.period == period)
    return session.exec(query).all()


def activity_totals(session: Session, campaign: str) -> dict[tuple[str, str, str], int]:
    """The campaign's activities by kind, platform and language, from the kept totals."""
    c = TOTALS.c
    query = sa.select(c.kind, c.platform, c.language, sa.func.sum(c.count)).where(
        c.campaign_code == campaign).group_by(c.kind, c.platform, c.language)
    return {(kind, platform, language): int(total)
            for kind, platform, language, total in session.execute(query)}


def broadcasts(session: Session, campaign: str, start: date, end: date
               ) -> dict[str, dict[date, int]]:
    """Loudspeaker broadcasts per unit and day between two days (inclusive)."""
    c = DAYS.c
    query = sa.select(c.unit_code, c.day, c.count).where(
        c.campaign_code == campaign, c.day >= start, c.day <= end)
    found: dict[str, dict[date, int]] = {}
    for unit_code, day, count in session.execute(query):
        found.setdefault(unit_code, {})[day] = count
    return found


# --- the kept figures, as the feeds read them ----------------------------------------------


Figures = dict[tuple[str, str], tuple[int, int]]  # (parent, unit kind): (reported, on time)


def figures(session: Session, campaign: str, period: str, parent: str | None = None
            ) -> Figures:
    """Units reported and on time for a period, per parent and unit kind (kept by the
    fold); of one parent only, if given."""
    c = FIGURES.c
    query = sa.select(c.unit_parent, c.unit_kind, c.reported, c.on_time).where(
        c.campaign_code == campaign, c.period == period)
    if parent is not None:
        query = query.where(c.unit_parent == parent)
    return {(found, kind): (reported, on_time)
            for found, kind, reported, on_time in session.execute(query)}


def figures_of(session: Session, campaign: str, period: str, units: Sequence[str],
               parent: str | None = None) -> Figures:
    """Of these units, those that reported for a period and on time, per parent and unit
    kind (of one parent only, if given)."""
    if not units:
        return {}
    c = HEADS.c
    query = sa.select(c.unit_parent, c.unit_kind, sa.func.count(),
                      sa.func.sum(sa.case((c.on_time, 1), else_=0))).where(
        c.campaign_code == campaign, c.period == period,
        c.unit_code.in_(list(units))).group_by(c.unit_parent, c.unit_kind)
    if parent is not None:
        query = query.where(c.unit_parent == parent)
    return {(found, kind): (int(n), int(on_time or 0))
            for found, kind, n, on_time in session.execute(query)}


_REVISION = sa.select(sa.func.coalesce(sa.func.sum(FIGURES.c.revision), 0)).where(
    FIGURES.c.campaign_code == sa.bindparam("campaign"))
_PERIOD_REVISION = _REVISION.where(FIGURES.c.period == sa.bindparam("period"))


def revision(session: Session, campaign: str, period: str | None = None) -> int:
    """Grows with every fold that changed the campaign's (or the period's) figures. Asked
    on every feed request: the statements are built once (a third of the time)."""
    if period is None:
        return int(session.execute(_REVISION, {"campaign": campaign}).scalar_one())
    return int(session.execute(_PERIOD_REVISION, {"campaign": campaign, "period": period}
                               ).scalar_one())


def period_totals(session: Session, campaign: str, period: str | None = None,
                  unit_kinds: Iterable[str] | None = None, parent: str | None = None
                  ) -> Sequence[PeriodTotal]:
    """The kept totals of a period (or the campaign), by unit kind, parent, kind and
    detail; of one parent only, if given."""
    query = select(PeriodTotal).where(PeriodTotal.campaign_code == campaign)
    if period is not None:
        query = query.where(PeriodTotal.period == period)
    if parent is not None:
        query = query.where(PeriodTotal.unit_parent == parent)
    if unit_kinds is not None:
        query = query.where(col(PeriodTotal.unit_kind).in_(list(unit_kinds)))
    return session.exec(query).all()


def _failing(today: date, rule: str | None) -> Any:
    c = HEADS.c
    weekly, daily = c.weekly_fails_on <= today, c.daily_fails_on <= today
    return weekly if rule == "weekly" else daily if rule == "peak_day" else sa.or_(weekly,
                                                                                    daily)


def below_counts(session: Session, campaign: str, period: str, today: date,
                 unit_kind: str | None = None) -> dict[str, tuple[int, int, int]]:
    """Per parent, the units below any loudspeaker target as of `today`, below the weekly
    one, below a peak day's: read off the verdicts the fold keeps (only failing rows are
    read)."""
    c = HEADS.c
    weekly = sa.func.sum(sa.case((c.weekly_fails_on <= today, 1), else_=0))
    daily = sa.func.sum(sa.case((c.daily_fails_on <= today, 1), else_=0))
    query = sa.select(c.unit_parent, sa.func.count(), weekly, daily).where(
        c.campaign_code == campaign, c.period == period, _failing(today, None)
    ).group_by(c.unit_parent)
    if unit_kind is not None:
        query = query.where(c.unit_kind == unit_kind)
    return {parent: (int(failing), int(below_weekly or 0), int(below_daily or 0))
            for parent, failing, below_weekly, below_daily in session.execute(query)}


def below_page(session: Session, campaign: str, period: str, today: date, *,
               unit_kind: str | None, parent: str | None = None, rule: str | None,
               after: str | None, limit: int) -> tuple[list[tuple[str, str]], int]:
    """A page of the units below a target as of `today`, by code after `after`: (code,
    kind) pairs, and how many there are in all."""
    c = HEADS.c
    where = [c.campaign_code == campaign, c.period == period, _failing(today, rule)]
    if unit_kind is not None:
        where.append(c.unit_kind == unit_kind)
    if parent is not None:
        where.append(c.unit_parent == parent)
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    if after is not None:
        where.append(c.unit_code > after)
    page = session.execute(sa.select(c.unit_code, c.unit_kind).where(*where)
                           .order_by(c.unit_code).limit(limit))
    return [(code, kind) for code, kind in page], int(total)


@dataclass(frozen=True)
class Head:
    """A unit's standing report for a period, as the per-unit table shows it."""

    on_time: bool
    version: int
    loudspeaker_total: int
    entered_by: str | None  # who entered it on the unit's behalf



def heads_of(session: Session, campaign: str, period: str, units: Sequence[str]
             ) -> dict[str, Head]:
    """The standing reports of these units for a period (those that reported)."""
    if not units:
        return {}
    c = HEADS.c
    query = sa.select(c.unit_code, c.on_time, c.version, c.loudspeaker_total,
                      c.entered_by).where(
        c.campaign_code == campaign, c.period == period, c.unit_code.in_(list(units)))
    return {code: Head(bool(on_time), version, total or 0, entered_by)
            for code, on_time, version, total, entered_by in session.execute(query)}


class UnitCounts(NamedTuple):
    """What one unit's standing report for a period counts."""

    by_kind: dict[str, int]
    platforms: set[str]  # posted on (a count above 0)
    languages: set[str]


def unit_counts_of(session: Session, campaign: str, period: str, units: Sequence[str]
                   ) -> dict[str, UnitCounts]:
    """What each of these units' standing report counts per activity kind, and the
    platforms and languages it covered: one query."""
    if not units:
        return {}
    c = COUNTS.c
    query = sa.select(c.unit_code, c.kind, c.platform, c.language, sa.func.sum(c.count)).where(
        c.campaign_code == campaign, c.period == period, c.unit_code.in_(list(units))
    ).group_by(c.unit_code, c.kind, c.platform, c.language)
    found: dict[str, UnitCounts] = {}
    for code, kind, platform, language, total in session.execute(query):
        counts = found.setdefault(code, UnitCounts({}, set(), set()))
        counts.by_kind[kind] = counts.by_kind.get(kind, 0) + int(total)
        if total > 0 and platform:
            counts.platforms.add(platform)
        if total > 0 and language:
            counts.languages.add(language)
    return found


def days_of(session: Session, campaign: str, period: str, units: Sequence[str]
            ) -> dict[str, dict[date, int]]:
    """Loudspeaker broadcasts per day of these units' standing reports for a period."""
    if not units:
        return {}
    c = DAYS.c
    query = sa.select(c.unit_code, c.day, c.count).where(
        c.campaign_code == campaign, c.period == period, c.unit_code.in_(list(units)))
    found: dict[str, dict[date, int]] = {}
    for code, day, count in session.execute(query):
        found.setdefault(code, {})[day] = count
    return found


def unit_days(session: Session, campaign: str, unit: str, *, after: date | None, limit: int
              ) -> tuple[list[tuple[date, str, int]], int]:
    """A page of a unit's days over a campaign (day, period, broadcasts), by date after
    `after`, and how many days it has in all (read by the table's key)."""
    c = DAYS.c
    where = [c.campaign_code == campaign, c.unit_code == unit]
    total = session.execute(sa.select(sa.func.count()).select_from(DAYS).where(*where)
                            ).scalar_one()
    if after is not None:
        where.append(c.day > after)
    rows = session.execute(sa.select(c.day, c.period, c.count).where(*where)
                           .order_by(c.day).limit(limit)).all()
    return [(day, period, count) for day, period, count in rows], total


@dataclass(frozen=True)
class Unjudged:
    """A standing report whose loudspeaker verdict is missing or from an older campaign."""

    period: str
    unit_code: str
    unit_kind: str
    period_start: date
    period_end: date


def unjudged(session: Session, campaign: str, revision: int, limit: int
             ) -> list[Unjudged]:
    """Standing reports of a campaign not judged against this revision of it."""
    c = HEADS.c
    query = sa.select(c.period, c.unit_code, c.unit_kind, c.period_start, c.period_end).where(
        c.campaign_code == campaign,
        sa.or_(c.judged_revision.is_(None), c.judged_revision != revision)).limit(limit)
    return [Unjudged(*row) for row in session.execute(query)]


def judge(db: RawConnection, verdicts: list[tuple[Any, ...]]) -> None:
    """Store verdicts: rows (weekly_fails_on, daily_fails_on, judged_revision, campaign,
    period, unit)."""
    db.many(f"UPDATE {HEADS.name} SET weekly_fails_on = ?, daily_fails_on = ?, "
            f"judged_revision = ? WHERE {_KEY}", verdicts)


# --- parents -------------------------------------------------------------------------------


def parents(session: Session, units: Iterable[str]) -> dict[str, tuple[str, int]]:
    """Of these units, those whose registry record the fold has read: (parent, the record's
    revision)."""
    codes = sorted(set(units))
    c = PARENTS.c
    found: dict[str, tuple[str, int]] = {}
    for at in range(0, len(codes), 500):
        query = sa.select(c.unit_code, c.parent, c.revision).where(
            c.unit_code.in_(codes[at:at + 500]))
        found |= {code: (parent, revision) for code, parent, revision in session.execute(query)}
    return found


def set_parents(db: RawConnection, rows: list[tuple[str, str, int]]) -> None:
    """Record units' parents: rows (code, parent, revision)."""
    db.many(f"{_insert(PARENTS, ('unit_code', 'parent', 'revision'))} ON CONFLICT (unit_code) "
            "DO UPDATE SET parent = excluded.parent, revision = excluded.revision", rows)


@dataclass(frozen=True)
class Placed:
    """A standing report as a re-parenting moves it."""

    key: Key
    unit_kind: str
    unit_parent: str
    on_time: bool


def placed(session: Session, units: Iterable[str]) -> list[Placed]:
    """The standing reports of these units, of every campaign and period."""
    codes = sorted(set(units))
    c = HEADS.c
    found = []
    for at in range(0, len(codes), 500):
        query = sa.select(c.campaign_code, c.period, c.unit_code, c.unit_kind, c.unit_parent,
                          c.on_time).where(c.unit_code.in_(codes[at:at + 500]))
        found += [Placed((campaign, period, unit), kind, parent, bool(on_time))
                  for campaign, period, unit, kind, parent, on_time in session.execute(query)]
    return found


def move(db: RawConnection, moves: list[tuple[str, str, str, str]]) -> None:
    """Put standing reports and their counts under a new parent: rows (parent, campaign,
    period, unit); the kept figures are shifted apart (see `shift`)."""
    db.many(f"UPDATE {HEADS.name} SET unit_parent = ? WHERE {_KEY}", moves)
    db.many(f"UPDATE {COUNTS.name} SET unit_parent = ? WHERE {_KEY}", moves)
