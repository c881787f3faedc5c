"""Campaigns get their notification rules: reminder steps, quiet hours, the daily digest and
the Department's addresses. A campaign from before holds `{}`, which reads as the defaults.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("notifications", sa.JSON, nullable=False,
                                   server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("notifications")
