"""Registry queries. Functions here read and add; they never commit."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from services.registry.models import Campaign, Credential, Unit


def get_unit(session: Session, code: str, *, for_update: bool = False) -> Unit | None:
    return session.get(Unit, code, with_for_update=for_update)


def unit_by_name_key(session: Session, key: str) -> Unit | None:
    return session.exec(select(Unit).where(Unit.name_key == key)).first()


def unit_by_admin_code(session: Session, admin_code: str) -> Unit | None:
    return session.exec(select(Unit).where(Unit.admin_code == admin_code)).first()


def list_units(session: Session, *, kind: str | None, active_on: date | None,
               active: bool | None, limit: int, offset: int,
               codes: Sequence[str] | None = None) -> tuple[Sequence[Unit], int]:
    query = select(Unit)
    if codes:
        query = query.where(col(Unit.code).in_(codes))
    if kind is not None:
        query = query.where(Unit.kind == kind)
    if active is not None and active_on is not None:
        is_active = (col(Unit.active_from) <= active_on) & or_(
            col(Unit.active_until).is_(None), col(Unit.active_until) >= active_on)
        query = query.where(is_active if active else ~is_active)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    items = session.exec(query.order_by(Unit.kind, Unit.code).limit(limit).offset(offset)).all()
    return items, total


def all_units(session: Session) -> Sequence[Unit]:
    return session.exec(select(Unit).order_by(Unit.code)).all()


def get_campaign(session: Session, code: str, *, for_update: bool = False) -> Campaign | None:
    return session.get(Campaign, code, with_for_update=for_update)


def all_campaigns(session: Session) -> Sequence[Campaign]:
    query = select(Campaign).order_by(col(Campaign.starts_on), col(Campaign.code))
    return session.exec(query).all()


def get_credential(session: Session, credential_id: str) -> Credential | None:
    return session.get(Credential, credential_id)


def credential_by_hash(session: Session, token_sha256: str) -> Credential | None:
    return session.exec(select(Credential).where(Credential.token_sha256 == token_sha256)).first()


def units_by_code(session: Session, codes: Sequence[str]) -> dict[str, Unit]:
    """The units of these codes that exist, by code (a thousand codes a query)."""
    found: dict[str, Unit] = {}
    for at in range(0, len(codes), 1000):
        chunk = codes[at:at + 1000]
        found.update((u.code, u) for u in session.exec(
            select(Unit).where(col(Unit.code).in_(chunk))))
    return found


def unit_credentials_of(session: Session, codes: Sequence[str]) -> list[Credential]:
    """The unit credentials of these units, revoked or not."""
    found: list[Credential] = []
    for at in range(0, len(codes), 1000):
        found += session.exec(select(Credential).where(
            col(Credential.unit_code).in_(codes[at:at + 1000]),
            Credential.scope == "unit")).all()
    return found


def credentials_of_unit(session: Session, unit_code: str) -> Sequence[Credential]:
    return session.exec(select(Credential).where(Credential.unit_code == unit_code)).all()


def all_credentials(session: Session) -> Sequence[Credential]:
    return session.exec(select(Credential).order_by(col(Credential.issued_at))).all()
