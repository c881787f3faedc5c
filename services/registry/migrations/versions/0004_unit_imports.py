"""Unit imports run as jobs: a table of imports, and one of the rows between their checking
and their writing (see services.registry.importing).

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
    op.create_table(
        "unit_imports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("good_rows", sa.Boolean, nullable=False),
        sa.Column("active_from", sa.Date, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False)
          for name in ("rows_checked", "rows_written", "created", "updated", "unchanged",
                       "rejected", "problems_left_off")),
        *(sa.Column(name, sa.Integer) for name in ("rows_total", "rows_to_write",
                                                   "left_off_from")),
        sa.Column("problems", sa.JSON, nullable=False),
        sa.Column("error", sa.String(2000)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "unit_import_rows",
        sa.Column("import_id", sa.String(40), primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("name_digest", sa.String(32)),
        sa.Column("code", sa.String(64)),
        sa.Column("admin_code", sa.String(32)),
        sa.Column("matched", sa.Boolean, nullable=False),
        sa.Column("changes", sa.Text),
        sa.UniqueConstraint("import_id", "name_digest"),
        sa.UniqueConstraint("import_id", "code"),
        sa.UniqueConstraint("import_id", "admin_code"),
    )


def downgrade() -> None:
    op.drop_table("unit_import_rows")
    op.drop_table("unit_imports")
