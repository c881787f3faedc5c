"""Every report version kept whole with the moment it was recorded (the compiled report's
`as_of`), and who entered a standing report on its unit's behalf. Versions folded before
this revision are not kept: a compiled report as of a time before it counts only those the
fold reads again (a rebuild reads them all).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_versions",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
    )
    op.create_index("ix_report_versions_recorded", "report_versions",
                    ["campaign_code", "recorded_at"])
    with op.batch_alter_table("period_reports") as batch:
        batch.add_column(sa.Column("entered_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("period_reports") as batch:
        batch.drop_column("entered_by")
    op.drop_index("ix_report_versions_recorded", "report_versions")
    op.drop_table("report_versions")
