"""Units get a parent: the province-level unit they belong to, by its Decision 19/2025/QĐ-TTg
code (services.events.PROVINCES); null for those loaded before.

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
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("parent", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("parent")
