"""The audit trail: one row per change in the registry and per report entered on a unit's
behalf, with who, when and what changed (see services.registry.audit).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_scope", sa.String(16)),
        sa.Column("actor_label", sa.String(200)),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("request_id", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column("event_key", sa.String(300), unique=True),
    )
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_audit_entries_actor", "audit_entries", ["actor"])
    op.create_index("ix_audit_entries_entity", "audit_entries", ["entity", "entity_id"])


def downgrade() -> None:
    op.drop_table("audit_entries")
