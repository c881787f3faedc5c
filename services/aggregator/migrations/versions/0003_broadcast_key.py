"""Daily broadcasts indexed by the fold's key: a revision deletes its predecessor's days by
(campaign, period, unit), which the period index alone answered by scanning the period.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_daily_broadcasts_period", table_name="daily_broadcasts")
    op.create_index("ix_daily_broadcasts_key", "daily_broadcasts",
                    ["campaign_code", "period", "unit_code"])


def downgrade() -> None:
    op.drop_index("ix_daily_broadcasts_key", table_name="daily_broadcasts")
    op.create_index("ix_daily_broadcasts_period", "daily_broadcasts", ["period"])
