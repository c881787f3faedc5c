"""Drop the index on reports.unit_code: the unique (unit, campaign, period, version) index
begins with the unit and serves the same lookups, and every report paid for both.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_reports_unit_code", table_name="reports")


def downgrade() -> None:
    op.create_index("ix_reports_unit_code", "reports", ["unit_code"])
