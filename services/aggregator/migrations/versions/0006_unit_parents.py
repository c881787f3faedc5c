"""Figures by administrative parent: the standing reports and their counts carry their unit's
parent (the province-level unit, services.events.PROVINCES; "" for none), the kept figures
and totals are keyed by it as well, and `unit_parents` holds each unit's parent as the fold
read it from the registry. Existing rows get "" until the fold reads the unit topic (a new
consumer group member reads it from its beginning) and moves them to their parents.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DETAILS = ("platform", "format", "language", "channel")


def upgrade() -> None:
    for table in ("period_reports", "activity_counts"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("unit_parent", sa.String(8), nullable=False,
                                       server_default=""))
    op.create_table(
        "unit_parents",
        sa.Column("unit_code", sa.String(64), primary_key=True),
        sa.Column("parent", sa.String(8), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    _figures(with_parent=True)


def downgrade() -> None:
    _figures(with_parent=False)
    op.drop_table("unit_parents")
    for table in ("activity_counts", "period_reports"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("unit_parent")


def _figures(*, with_parent: bool) -> None:
    """The kept figures and totals again, keyed by parent or not, refilled from the
    standing reports and their counts (what 0005 kept, regrouped)."""
    op.drop_table("period_figures")
    op.drop_table("period_totals")
    parent = [sa.Column("unit_parent", sa.String(8), primary_key=True, server_default="")] \
        if with_parent else []
    op.create_table(
        "period_figures",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_kind", sa.String(32), primary_key=True),
        *parent,
        sa.Column("reported", sa.Integer, nullable=False),
        sa.Column("on_time", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_table(
        "period_totals",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_kind", sa.String(32), primary_key=True),
        *[sa.Column("unit_parent", sa.String(8), primary_key=True, server_default="")
          for _ in parent],
        sa.Column("kind", sa.String(32), primary_key=True),
        *(sa.Column(name, sa.String(16), primary_key=True) for name in DETAILS),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("people_mobilised", sa.Integer, nullable=False),
        sa.Column("shares", sa.Integer, nullable=False),
    )
    by = "campaign_code, period, unit_kind" + (", unit_parent" if with_parent else "")
    op.execute(
        f"INSERT INTO period_figures ({by}, reported, on_time, revision) SELECT {by}, "
        "count(*), sum(CASE WHEN on_time THEN 1 ELSE 0 END), 1 FROM period_reports "
        f"GROUP BY {by}")
    keys = f"{by}, kind, " + ", ".join(DETAILS)
    op.execute(
        f"INSERT INTO period_totals ({keys}, count, people_mobilised, shares) "
        f"SELECT {keys}, sum(count), sum(people_mobilised), sum(shares) FROM activity_counts "
        f"GROUP BY {keys}")
