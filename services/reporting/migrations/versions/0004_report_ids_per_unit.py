"""Report ids are each unit's own: the reports table's key becomes (unit, id), so two units
may choose the same id and neither learns that the other used it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = ("unit_code, id, campaign_code, period, version, supersedes, received_at, on_time, "
           "content_sha256, event")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(["unit_code", "id"])
    else:
        op.drop_constraint("reports_pkey", "reports", type_="primary")
        op.create_primary_key("pk_reports", "reports", ["unit_code", "id"])


def downgrade() -> None:
    """Fails where two units share an id: the old key cannot hold them."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(["id"])
    else:
        op.drop_constraint("pk_reports", "reports", type_="primary")
        op.create_primary_key("reports_pkey", "reports", ["id"])


def _rebuild(key: list[str]) -> None:
    """SQLite cannot change a table's key in place: a copy with the new key replaces it."""
    op.create_table(
        "reports_rebuilt",
        sa.Column("unit_code", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("campaign_code", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("supersedes", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_reports"),
        sa.UniqueConstraint("unit_code", "campaign_code", "period", "version"),
    )
    op.execute(f"INSERT INTO reports_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM reports")
    op.drop_table("reports")
    op.rename_table("reports_rebuilt", "reports")
