"""Standing reports, activity counts and daily broadcasts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "period_reports",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("unit_kind", sa.String(32), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
    )
    op.create_table(
        "activity_counts",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        *(sa.Column(name, sa.String(16), primary_key=True)
          for name in ("platform", "format", "language", "channel")),
        sa.Column("unit_kind", sa.String(32), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("people_mobilised", sa.Integer, nullable=False),
        sa.Column("shares", sa.Integer, nullable=False),
    )
    op.create_table(
        "daily_broadcasts",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("period", sa.String(16), nullable=False, index=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("daily_broadcasts", "activity_counts", "period_reports"):
        op.drop_table(table)
