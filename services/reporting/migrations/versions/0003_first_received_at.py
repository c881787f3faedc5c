"""Keep when each unit's first report for a period arrived, beside its newest version:
timeliness counts the first report, and numbering already reads this table.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The lowest version is version 1: versions start there and none is ever deleted.
FILL = """
UPDATE report_heads SET first_received_at = (
    SELECT r.received_at FROM reports r
    WHERE r.unit_code = report_heads.unit_code AND r.campaign_code = report_heads.campaign_code
      AND r.period = report_heads.period
    ORDER BY r.version LIMIT 1)
"""


def upgrade() -> None:
    op.add_column("report_heads", sa.Column("first_received_at", sa.DateTime(timezone=True)))
    op.execute(FILL)
    with op.batch_alter_table("report_heads") as batch:  # SQLite: the table is rebuilt
        batch.alter_column("first_received_at", existing_type=sa.DateTime(timezone=True),
                           nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("report_heads") as batch:
        batch.drop_column("first_received_at")
