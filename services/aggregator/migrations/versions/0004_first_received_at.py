"""When each unit's first report for a period arrived: timeliness is judged by it, so a late
revision of an on-time report stays on time. A standing version 1 was its own first report;
for a revision already folded the first reception is unknown and its `on_time` stands.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("period_reports") as batch:
        batch.add_column(sa.Column("first_received_at", sa.DateTime(timezone=True),
                                   nullable=True))
    op.execute("UPDATE period_reports SET first_received_at = received_at WHERE version = 1")


def downgrade() -> None:
    with op.batch_alter_table("period_reports") as batch:
        batch.drop_column("first_received_at")
