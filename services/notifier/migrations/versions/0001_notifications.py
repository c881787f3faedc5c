"""Notifications, each with its state, attempts and last error; the reports in, the reminder
waves planned and the breaches a digest has yet to list.

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
        "notifications",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16)),
        sa.Column("unit_code", sa.String(64)),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(2000), nullable=False),
        sa.Column("copy_to", sa.String(2000)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(2000)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifications_due", "notifications", ["state", "due_at"])
    op.create_index("ix_notifications_unit", "notifications", ["unit_code", "campaign", "period"])
    op.create_table(
        "reported",
        sa.Column("campaign", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("unit_kind", sa.String(32), nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=False),
    )
    op.create_table(
        "waves",
        sa.Column("campaign", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("step", sa.String(32), primary_key=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminders", sa.Integer, nullable=False),
    )
    op.create_table(
        "digest_breaches",
        sa.Column("breach_id", sa.String(300), primary_key=True),
        sa.Column("campaign", sa.String(64), nullable=False, index=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest_day", sa.String(10)),
    )


def downgrade() -> None:
    for table in ("digest_breaches", "waves", "reported", "notifications"):
        op.drop_table(table)
