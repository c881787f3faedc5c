"""The Grafana dashboards, built with Grafana's own typed builders (grafana-foundation-sdk):
a panel the builders reject (a width over 24, a wrong type) fails here, not in Grafana.

`python -m deploy.dashboards` writes deploy/grafana/dashboards/*.json, which Grafana loads
through deploy/grafana/provisioning; a test fails when they are stale, and another runs
every panel's query against a live Prometheus scraping the real services. Every title is
Vietnamese first, English beside it.
"""

import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BarGaugeDisplayMode, VizOrientation
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

FOLDER = Path(__file__).parent / "grafana" / "dashboards"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")  # as provisioned
CAMPAIGN = 'campaign="$campaign"'
SERVICES = 'job=~"$service"'

Panel = timeseries.Panel | stat.Panel | bargauge.Panel


def query(expr: str, legend: str = "") -> Dataquery:
    return (Dataquery().expr(expr).legend_format(legend or "__auto").ref_id("A")
            .datasource(PROMETHEUS))


def zero_when_none(expr: str, like: str) -> str:
    """`expr`, or 0 for each series of `like` when it has none: a panel of errors shows a
    flat zero, not "No data", while nothing has failed (counters with labels appear only
    from their first increment)."""
    return f"({expr}) or (0 * ({like}))"


def trend(title: str, *queries: Dataquery, unit: str = "short", width: int = 12) -> Panel:
    panel = timeseries.Panel().title(title).unit(unit).span(width).height(8)
    for target in queries:
        panel = panel.with_target(target)
    return panel.datasource(PROMETHEUS)


def figure(title: str, target: Dataquery, unit: str = "short", width: int = 6) -> Panel:
    return (stat.Panel().title(title).unit(unit).span(width).height(5).with_target(target)
            .datasource(PROMETHEUS))


def bars(title: str, target: Dataquery, unit: str = "short", width: int = 8) -> Panel:
    return (bargauge.Panel().title(title).unit(unit).span(width).height(8)
            .display_mode(BarGaugeDisplayMode.GRADIENT)
            .orientation(VizOrientation.HORIZONTAL).with_target(target)
            .datasource(PROMETHEUS))


def one(gauge: str, by: str) -> str:
    """A campaign gauge of the chosen campaign. Every aggregator process exports the same
    figures (each follows every change): one of them, not their sum."""
    return f"max by ({by}) ({gauge}{{{CAMPAIGN}}})"


def activities(by: str, having: str = "") -> str:
    """The campaign's activities summed by one label, each series counted once whatever
    the number of aggregator processes."""
    where = f"{CAMPAIGN}, {having}" if having else CAMPAIGN
    return (f"sum by ({by}) (max by (kind, platform, language) "
            f"(campaign_activities{{{where}}}))")


def campaign_progress() -> Dashboard:
    """For the Department: how far the campaign is, and what it has done."""
    return (
        Dashboard("Tiến độ chiến dịch / Campaign progress").uid("campaign-progress")
        .tags(["haiphong-campaign"]).time("now-30d", "now").refresh("1m")
        .timezone("Asia/Ho_Chi_Minh")
        .with_variable(QueryVariable("campaign").label("Chiến dịch / Campaign")
                       .datasource(PROMETHEUS)
                       .query("label_values(campaign_activities, campaign)")
                       .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED))
        .with_row(Row("Kỳ báo cáo đã đến hạn gần nhất / Latest period due"))
        .with_panel(figure("Tỉ lệ đầy đủ theo loại đơn vị / Completeness by unit kind",
                           query(one("campaign_completeness_ratio", "unit_kind"), "{{unit_kind}}"),
                           "percentunit", 8))
        .with_panel(figure("Tỉ lệ đúng hạn theo loại đơn vị / Timeliness by unit kind",
                           query(one("campaign_timeliness_ratio", "unit_kind"), "{{unit_kind}}"),
                           "percentunit", 8))
        .with_panel(figure("Đơn vị chưa báo cáo / Units missing",
                           query(one("campaign_units_missing", "unit_kind"), "{{unit_kind}}"),
                           width=8))
        .with_panel(figure("Đơn vị dưới chỉ tiêu phát thanh / Units below the loudspeaker "
                           "target",
                           query(one("campaign_units_below_broadcast_target", "rule"), "{{rule}}"),
                           width=8))
        .with_panel(figure("Kỳ sắp đến hạn: đã báo cáo / Period due next: reported so far",
                           query(one("campaign_next_deadline_completeness_ratio", "period"),
                                 "{{period}}"), "percentunit", 8))
        .with_panel(figure("Thời gian còn lại đến hạn / Time to the next deadline",
                           query(one("campaign_next_deadline_timestamp_seconds", "period")
                                 + " - time()", "{{period}}"), "s", 8))
        .with_row(Row("Xu hướng / Trend over the campaign"))
        .with_panel(trend("Tỉ lệ đầy đủ qua các kỳ / Completeness over the periods",
                          query(one("campaign_completeness_ratio", "unit_kind"), "{{unit_kind}}"),
                          unit="percentunit"))
        .with_panel(trend("Tỉ lệ đúng hạn qua các kỳ / Timeliness over the periods",
                          query(one("campaign_timeliness_ratio", "unit_kind"), "{{unit_kind}}"),
                          unit="percentunit"))
        .with_panel(trend("Báo cáo nhận được / Reports received",
                          query("sum by (timeliness) (increase(reports_accepted_total"
                                "[$__rate_interval]))", "{{timeliness}}"), width=24))
        .with_row(Row("Hoạt động / Activities"))
        .with_panel(bars("Theo loại hoạt động / By activity kind",
                         query(activities("kind"), "{{kind}}")))
        .with_panel(bars("Theo nền tảng / By platform",
                         query(activities("platform", 'platform!=""'), "{{platform}}")))
        .with_panel(bars("Theo ngôn ngữ / By language",
                         query(activities("language", 'language!=""'), "{{language}}")))
    )


def rate(metric: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{{{SERVICES}}}[$__rate_interval]))"


def p95(histogram: str, by: str) -> str:
    return (f"histogram_quantile(0.95, sum by ({by}, le) "
            f"(rate({histogram}_bucket{{{SERVICES}}}[$__rate_interval])))")


def service_health() -> Dashboard:
    """For the operators: requests, errors, latency, consumers, outboxes, notifications."""
    requests = f"http_requests_total{{{SERVICES}}}"
    return (
        Dashboard("Tình trạng dịch vụ / Service health").uid("service-health")
        .tags(["haiphong-campaign"]).time("now-6h", "now").refresh("30s")
        .timezone("Asia/Ho_Chi_Minh")
        .with_variable(QueryVariable("service").label("Dịch vụ / Service")
                       .datasource(PROMETHEUS).query("label_values(up, job)")
                       .multi(True).include_all(True).all_value(".*")
                       .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED))
        .with_row(Row("Sẵn sàng / Up and ready"))
        .with_panel(figure("Đang chạy / Up", query(f"up{{{SERVICES}}}", "{{job}}"), width=12))
        .with_panel(figure("Sẵn sàng / Ready", query(f"service_ready{{{SERVICES}}}", "{{job}}"),
                           width=12))
        .with_row(Row("HTTP"))
        .with_panel(trend("Số yêu cầu mỗi giây / Requests per second",
                          query(rate("http_requests_total", "job"), "{{job}}"), unit="reqps",
                          width=8))
        .with_panel(trend("Lỗi máy chủ (5xx) / Server errors (5xx)",
                          query(zero_when_none(
                              f'sum by (job, route) (rate(http_requests_total{{{SERVICES}, '
                              'status=~"5.."}[$__rate_interval]))',
                              f"sum by (job, route) (rate({requests}[$__rate_interval]))"),
                              "{{job}} {{route}}"), unit="reqps", width=8))
        .with_panel(trend("Yêu cầu bị từ chối (4xx) / Refused requests (4xx)",
                          query(zero_when_none(
                              f'sum by (job, status) (rate(http_requests_total{{{SERVICES}, '
                              'status=~"4.."}[$__rate_interval]))',
                              f"sum by (job) (rate({requests}[$__rate_interval]))"),
                              "{{job}} {{status}}"), unit="reqps", width=8))
        .with_panel(trend("Độ trễ p95 theo route / Latency p95 by route",
                          query(p95("http_request_duration_seconds", "job, route"),
                                "{{job}} {{route}}"), unit="s", width=24))
        .with_row(Row("Kafka: tiêu thụ và outbox / Consumers and outboxes"))
        .with_panel(trend("Độ trễ tiêu thụ (thông điệp) / Consumer lag (messages)",
                          query(f"consumer_lag_messages{{{SERVICES}}}", "{{consumer}}")))
        .with_panel(trend("Thời gian xử lý lô p95 / Batch handling p95",
                          query(p95("consumer_batch_duration_seconds", "consumer"),
                                "{{consumer}}"), unit="s"))
        .with_panel(trend("Thông điệp để riêng (1 giờ) / Dead letters (1 h)",
                          query(zero_when_none(
                              f"sum by (job, consumer) (increase(consumer_dead_letters_total"
                              f"{{{SERVICES}}}[1h]))",
                              f"sum by (job, consumer) (consumer_lag_messages{{{SERVICES}}})"),
                              "{{consumer}}"), width=8))
        .with_panel(trend("Sự kiện chờ gửi / Outbox pending",
                          query(f"outbox_pending_messages{{{SERVICES}}}", "{{job}}"), width=8))
        .with_panel(trend("Tuổi sự kiện chờ lâu nhất / Oldest pending event",
                          query(f"outbox_oldest_age_seconds{{{SERVICES}}}", "{{job}}"),
                          unit="s", width=8))
        .with_panel(trend("Gửi sự kiện p95 / Relay publish p95",
                          query(p95("outbox_publish_duration_seconds", "job"), "{{job}}"),
                          unit="s"))
        .with_panel(trend("Lỗi chuyển tiếp / Relay errors",
                          query(zero_when_none(
                              f'sum by (job) (increase(errors_total{{{SERVICES}, '
                              'kind="outbox_publish"}[$__rate_interval]))',
                              f"sum by (job) (outbox_pending_messages{{{SERVICES}}})"),
                              "{{job}}")))
        .with_panel(trend("Từ nhận báo cáo đến số liệu p95 / Intake to feeds p95",
                          query("histogram_quantile(0.95, sum by (le) (rate("
                                "aggregator_processing_latency_seconds_bucket"
                                "[$__rate_interval])))", "p95"), unit="s", width=24))
        .with_row(Row("Thông báo / Notifications"))
        .with_panel(trend("Đã gửi / Sent",
                          query("sum by (channel, kind) (rate(notifications_sent_total"
                                "[$__rate_interval]))", "{{channel}} {{kind}}"), width=8))
        .with_panel(trend("Gửi lỗi / Failed attempts",
                          query(zero_when_none(
                              "sum by (channel, kind) (rate(notifications_failed_total"
                              "[$__rate_interval]))",
                              "sum by (kind) (notifications_waiting)"),
                              "{{channel}} {{kind}}"), width=8))
        .with_panel(trend("Đang chờ gửi / Waiting",
                          query("sum by (state, kind) (notifications_waiting)",
                                "{{state}} {{kind}}"), width=8))
    )


DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "campaign-progress": campaign_progress, "service-health": service_health}


def render(name: str) -> str:
    """One dashboard as Grafana's JSON model, its panels numbered in order."""
    built = DASHBOARDS[name]().build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(built) + "\n"


def write(folder: Path = FOLDER) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DASHBOARDS:
        path = folder / f"{name}.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER):
        print(path)
