"""Registry tables. Never sent over the wire: see schemas.py and services.events."""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def moment(*, optional: bool = False) -> Any:
    """A timezone-aware timestamp column."""
    if optional:
        return Field(default=None, sa_type=DateTime(timezone=True))
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Unit(SQLModel, table=True):
    """A reporting unit (đơn vị)."""

    __tablename__ = "units"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    name_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32, index=True)
    admin_code: str | None = Field(default=None, max_length=32, unique=True)
    parent: str | None = Field(default=None, max_length=8)  # a PROVINCES code
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    webhook_url: str | None = Field(default=None, max_length=2000)
    website: str | None = Field(default=None, max_length=2000)
    facebook: str | None = Field(default=None, max_length=2000)
    zalo: str | None = Field(default=None, max_length=2000)
    youtube: str | None = Field(default=None, max_length=2000)
    tiktok: str | None = Field(default=None, max_length=2000)
    active_from: date
    active_until: date | None = None
    webhook_secret_generation: int = 1  # services.webhooks: moves on when rotated
    revision: int = 1
    created_at: datetime = moment()
    updated_at: datetime = moment()


class Campaign(SQLModel, table=True):
    """A campaign, its calendar and its targets."""

    __tablename__ = "campaigns"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=300)
    starts_on: date
    ends_on: date
    reporting_period: str = Field(max_length=32)
    closes_on: date | None = None
    peak_windows: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    deadline: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    targets: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    notifications: dict[str, Any] = Field(default_factory=dict,
                                          sa_column=Column(JSON, nullable=False))
    revision: int = 1
    created_at: datetime = moment()
    updated_at: datetime = moment()


class Credential(SQLModel, table=True):
    """A bearer credential; only the SHA-256 of its token is kept."""

    __tablename__ = "credentials"

    id: str = Field(primary_key=True, max_length=40)
    scope: str = Field(max_length=16)
    unit_code: str | None = Field(default=None, max_length=64, index=True)
    label: str = Field(max_length=200)
    token_sha256: str = Field(max_length=64, unique=True)
    token_prefix: str = Field(max_length=16)
    issued_at: datetime = moment()
    revoked_at: datetime | None = moment(optional=True)


class UnitImport(SQLModel, table=True):
    """A CSV import of units as a job: its progress, counts and problems (see importing)."""

    __tablename__ = "unit_imports"

    id: str = Field(primary_key=True, max_length=40)
    state: str = Field(max_length=16)
    good_rows: bool
    active_from: date
    size_bytes: int
    rows_checked: int = 0
    rows_total: int | None = None
    rows_to_write: int | None = None
    rows_written: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = Field(default_factory=list,
                                           sa_column=Column(JSON, nullable=False))
    problems_left_off: int = 0
    left_off_from: int | None = None
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = moment()
    updated_at: datetime = moment()
    finished_at: datetime | None = moment(optional=True)


class UnitImportRow(SQLModel, table=True):
    """A row of an import between its checking and its writing. Rows that claim a name, a
    code or an admin code are kept here, so a later row of the file is checked against them
    in the database, not in memory; a row refused while checking keeps only its claims."""

    __tablename__ = "unit_import_rows"
    __table_args__ = (UniqueConstraint("import_id", "name_digest"),
                      UniqueConstraint("import_id", "code"),
                      UniqueConstraint("import_id", "admin_code"))

    import_id: str = Field(primary_key=True, max_length=40)
    line: int = Field(primary_key=True)
    name_digest: str | None = Field(default=None, max_length=32)  # of the name's key
    code: str | None = Field(default=None, max_length=64)
    admin_code: str | None = Field(default=None, max_length=32)
    matched: bool = False  # the row named a unit that existed when it was checked
    changes: str | None = Field(default=None, sa_type=Text)  # JSON columns; None if refused


class AuditEntry(SQLModel, table=True):
    """One change in the registry, or a report entered on a unit's behalf: who, when, what
    (see services.registry.audit). Written in the change's own transaction; never updated."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)
    actor: str = Field(max_length=64, index=True)  # "admin", "system" or a credential id
    actor_scope: str | None = Field(default=None, max_length=16)
    actor_label: str | None = Field(default=None, max_length=200)
    entity: str = Field(max_length=16)
    entity_id: str = Field(max_length=200)
    action: str = Field(max_length=32)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    request_id: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_type=Text)
    # what a consumed event is recorded under (a report's campaign/period/unit/version), so a
    # redelivery adds nothing; null for the registry's own changes
    event_key: str | None = Field(default=None, max_length=300, unique=True)
