"""Figures kept by the fold, so that a feed reads them instead of recounting every unit: per
campaign, period and unit kind the units reported and on time (`period_figures`) and the
totals (`period_totals`); per standing report its broadcasts and the first day it falls
below a loudspeaker target. Filled here from what is already folded; the verdicts are left
unjudged (`judged_revision` null) for the aggregator to judge against its campaigns. And
an index of the standing reports by unit, for a unit's page and the fold's reads.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DETAILS = ("platform", "format", "language", "channel")


def upgrade() -> None:
    with op.batch_alter_table("period_reports") as batch:
        batch.add_column(sa.Column("loudspeaker_total", sa.Integer, nullable=True))
        batch.add_column(sa.Column("weekly_fails_on", sa.Date, nullable=True))
        batch.add_column(sa.Column("daily_fails_on", sa.Date, nullable=True))
        batch.add_column(sa.Column("judged_revision", sa.Integer, nullable=True))
    op.create_index("ix_period_reports_below", "period_reports",
                    ["campaign_code", "period", "weekly_fails_on", "daily_fails_on"])
    # A unit's page, and the fold reading the standing reports of a batch's units (their
    # counts are then read by key: no index on the largest table to keep up).
    op.create_index("ix_period_reports_unit", "period_reports", ["unit_code", "campaign_code"])
    op.create_table(
        "period_figures",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_kind", sa.String(32), primary_key=True),
        sa.Column("reported", sa.Integer, nullable=False),
        sa.Column("on_time", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_table(
        "period_totals",
        sa.Column("campaign_code", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("unit_kind", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        *(sa.Column(name, sa.String(16), primary_key=True) for name in DETAILS),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("people_mobilised", sa.Integer, nullable=False),
        sa.Column("shares", sa.Integer, nullable=False),
    )
    op.execute(
        "INSERT INTO period_figures (campaign_code, period, unit_kind, reported, on_time, "
        "revision) SELECT campaign_code, period, unit_kind, count(*), "
        "sum(CASE WHEN on_time THEN 1 ELSE 0 END), 1 FROM period_reports "
        "GROUP BY campaign_code, period, unit_kind")
    keys = "campaign_code, period, unit_kind, kind, " + ", ".join(DETAILS)
    op.execute(
        f"INSERT INTO period_totals ({keys}, count, people_mobilised, shares) "
        f"SELECT {keys}, sum(count), sum(people_mobilised), sum(shares) FROM activity_counts "
        f"GROUP BY {keys}")
    op.execute(
        "UPDATE period_reports SET loudspeaker_total = (SELECT sum(d.count) FROM "
        "daily_broadcasts d WHERE d.campaign_code = period_reports.campaign_code AND "
        "d.period = period_reports.period AND d.unit_code = period_reports.unit_code)")


def downgrade() -> None:
    op.drop_table("period_totals")
    op.drop_table("period_figures")
    op.drop_index("ix_period_reports_unit", "period_reports")
    op.drop_index("ix_period_reports_below", "period_reports")
    with op.batch_alter_table("period_reports") as batch:
        for name in ("judged_revision", "daily_fails_on", "weekly_fails_on",
                     "loudspeaker_total"):
            batch.drop_column(name)
