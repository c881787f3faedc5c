"""The campaign gauges: computed by `refresh` (off the event loop), read by a scrape from
memory alone. Real migrated SQLite, no broker."""

from datetime import timedelta

import sqlalchemy as sa
from prometheus_client import generate_latest
from prometheus_client.utils import floatToGoString
from sqlmodel import Session

from services.aggregator.metrics import CampaignGauges
from services.aggregator.migrations import MIGRATIONS
from services.observability import ServiceMetrics
from tests.unit.test_aggregator_rules import DEADLINE, LATE, Aggregates, broadcasts, report, unit


def campaign_lines(metrics: ServiceMetrics) -> list[str]:
    return sorted(line for line in generate_latest(metrics.registry).decode().splitlines()
                  if line.startswith("campaign_"))


def test_a_scrape_reads_the_figures_of_the_last_refresh_and_never_the_database(
        migrated) -> None:
    aggregates = Aggregates(migrated(MIGRATIONS))
    aggregates.add(unit("xa-1"), unit("xa-2"), unit("xa-3"), unit("ph-1", "ward"))
    aggregates.fold(
        report("xa-1", activities=[
            {"kind": "social_post", "count": 3, "platform": "zalo", "format": "news"}]),
        report("xa-2", at=LATE, activities=broadcasts({19: 1})),
        report("ph-1", kind="ward", activities=broadcasts(dict.fromkeys(range(19, 26), 1))))
    metrics = ServiceMetrics("aggregator")
    gauges = CampaignGauges(metrics)
    assert campaign_lines(metrics) == []  # nothing computed yet
    with Session(aggregates.engine) as session:
        gauges.refresh(session, aggregates.directory, DEADLINE + timedelta(days=1))
    with aggregates.engine.begin() as connection:  # a scrape must not need the database
        connection.execute(sa.text("DROP TABLE period_reports"))
    c = 'campaign="dai-hoi-xiv"'
    w05 = (DEADLINE + timedelta(days=7)).timestamp()
    # 2026-W04 is the latest due period: communes 2 of 3 reported, 1 on time; xa-1 posted no
    # broadcast and xa-2 one: both below the week, both below on peak days
    assert campaign_lines(metrics) == sorted([
        f'campaign_activities{{{c},kind="loudspeaker_broadcast",language="",platform=""}} 8.0',
        f'campaign_activities{{{c},kind="social_post",language="",platform="zalo"}} 3.0',
        f'campaign_completeness_ratio{{{c},unit_kind="commune"}} 0.6667',
        f'campaign_completeness_ratio{{{c},unit_kind="ward"}} 1.0',
        f'campaign_next_deadline_completeness_ratio{{{c},period="2026-W05"}} 0.0',
        f'campaign_next_deadline_timestamp_seconds{{{c},period="2026-W05"}} {floatToGoString(w05)}',
        f'campaign_timeliness_ratio{{{c},unit_kind="commune"}} 0.3333',
        f'campaign_timeliness_ratio{{{c},unit_kind="ward"}} 1.0',
        f'campaign_units_below_broadcast_target{{{c},rule="peak_day"}} 2.0',
        f'campaign_units_below_broadcast_target{{{c},rule="weekly"}} 2.0',
        f'campaign_units_missing{{{c},unit_kind="commune"}} 1.0',
        f'campaign_units_missing{{{c},unit_kind="ward"}} 0.0'])


def test_the_period_due_next_shows_how_far_it_is_before_its_deadline(migrated) -> None:
    """For the operators' alert on a deadline nearing with few reports in."""
    aggregates = Aggregates(migrated(MIGRATIONS))
    aggregates.add(unit("xa-1"), unit("xa-2"))
    aggregates.fold(report("xa-1"))
    metrics = ServiceMetrics("aggregator")
    gauges = CampaignGauges(metrics)
    with Session(aggregates.engine) as session:
        gauges.refresh(session, aggregates.directory, DEADLINE - timedelta(hours=1))
    c = 'campaign="dai-hoi-xiv"'
    w04 = DEADLINE.timestamp()
    assert [line for line in campaign_lines(metrics) if "next_deadline" in line] == [
        f'campaign_next_deadline_completeness_ratio{{{c},period="2026-W04"}} 0.5',
        f'campaign_next_deadline_timestamp_seconds{{{c},period="2026-W04"}} {floatToGoString(w04)}']
