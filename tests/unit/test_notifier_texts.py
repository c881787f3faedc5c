"""The texts units and leadership receive: Vietnamese first, the English below it, naming
the unit, the period, the figures, the deadline and what to do."""

import json
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from jinja2 import UndefinedError

from services import periods
from services.events import BreachDetected
from services.events.reports import EnteredBy
from services.notifier import planning
from services.notifier.schedule import NotificationRules
from services.notifier.texts import completeness, counted, message, render
from tests.unit.test_aggregator_rules import campaign, report, unit

CAMPAIGN = campaign()
PERIOD = periods.in_campaign(CAMPAIGN, "2026-W04")
LINKS = {"how_to_report": "http://localhost:8005/", "progress": "http://localhost:8005/tien-do"}
UNIT = unit("xa-an-hung", name="Xã An Hưng")


def receipt_context(version: int = 1, on_time: bool = True) -> dict:
    event = report("xa-an-hung", version, activities=[
        {"kind": "banner", "count": 12},
        {"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-19": 2, "2026-01-20": 1}},
        {"kind": "social_post", "platform": "zalo", "format": "news", "count": 3},
        {"kind": "social_post", "platform": "facebook", "format": "video", "count": 2}],
        on_time=on_time)
    return {"unit": UNIT, "campaign": CAMPAIGN, "period": PERIOD, "receipt": event,
            "counted": counted(event), "links": LINKS}


def test_a_receipt_in_vietnamese_names_the_period_the_version_and_what_was_counted() -> None:
    text = render("receipt", "vi", receipt_context())
    assert text.subject == "[Đại hội XIV] Đã nhận báo cáo kỳ 2026-W04 của Xã An Hưng"
    assert "kỳ 2026-W04 (19/01/2026 – 25/01/2026)" in text.body
    assert "Hạn nộp: 17:00 26/01/2026" in text.body
    assert "Đánh giá: ĐÚNG HẠN" in text.body
    assert "- Băng rôn, khẩu hiệu, pano, áp phích: 12\n" in text.body
    assert "- Buổi phát thanh trên loa truyền thanh cơ sở: 3\n" in text.body
    assert "- Bài đăng mạng xã hội: 5\n" in text.body  # every platform's, summed


def test_a_late_revision_says_so_and_how_it_is_judged() -> None:
    text = render("receipt", "vi", receipt_context(version=2, on_time=False))
    assert "Lần gửi: 2 (thay cho lần 1)" in text.body
    assert "MUỘN HẠN (tính theo lần gửi đầu tiên)" in text.body


def test_the_english_text_says_the_same() -> None:
    text = render("receipt", "en", receipt_context())
    assert text.subject == "[Đại hội XIV] Report for 2026-W04 received from Xã An Hưng"
    assert "Status: ON TIME" in text.body and "- Banners, slogans and posters: 12" in text.body


def test_what_is_sent_is_vietnamese_first_with_the_english_below() -> None:
    sent = message("receipt", receipt_context())
    assert sent.subject == "[Đại hội XIV] Đã nhận báo cáo kỳ 2026-W04 của Xã An Hưng"
    vietnamese, _, english = sent.body.partition("English below")
    assert "Đánh giá: ĐÚNG HẠN" in vietnamese and "Status" not in vietnamese
    assert english.split("\n")[2] == "[Đại hội XIV] Report for 2026-W04 received from Xã An Hưng"
    assert "Status: ON TIME" in english and "Đánh giá" not in english


@pytest.mark.parametrize(("overdue", "words"), [
    (False, "Hạn nộp báo cáo kỳ 2026-W04 (19/01/2026 – 25/01/2026) của Đại hội XIV là "
            "17:00 26/01/2026"),
    (True, "Đến 17:00 27/01/2026, hệ thống chưa nhận được báo cáo")])
def test_a_reminder_gives_the_deadline_and_what_to_do(overdue: bool, words: str) -> None:
    text = render("reminder", "vi", {
        "unit": UNIT, "campaign": CAMPAIGN, "period": PERIOD, "deadline": PERIOD.deadline,
        "overdue": overdue, "now": datetime(2026, 1, 27, 10, 0, tzinfo=UTC), "links": LINKS,
        "step": SimpleNamespace(name="after-24h")})
    assert words in text.body and "Cách gửi: http://localhost:8005/" in text.body
    assert text.subject.startswith("[Đại hội XIV] Quá hạn" if overdue else "[Đại hội XIV] Nhắc")


def breach(n: int, rule: str = "report_missing") -> BreachDetected:
    return BreachDetected(
        breach_id=f"b{n}", campaign="dai-hoi-xiv", rule=rule, unit_code=f"xa-{n}",
        unit_name=f"Xã Số {n}", unit_kind="commune", period="2026-W04",
        day=date(2026, 1, 20) if rule == "loudspeaker_peak_day" else None,
        broadcasts=0 if rule != "report_missing" else None,
        target=1 if rule != "report_missing" else None, deadline=PERIOD.deadline,
        detected_at=datetime(2026, 1, 27, tzinfo=UTC))


def test_one_digest_names_every_new_breach_and_the_period_s_completeness() -> None:
    breaches = [breach(n, rule) for n, rule in enumerate(
        ["report_missing"] * 18 + ["loudspeaker_weekly", "loudspeaker_peak_day"])]
    text = render("digest", "vi", {
        "campaign": CAMPAIGN, "period": PERIOD, "day": date(2026, 1, 28),
        "now": datetime(2026, 1, 28, 1, 0, tzinfo=UTC), "breaches": breaches,
        "completeness": completeness([("commune", 47, 40, 35), ("ward", 67, 66, 60)]),
        "digest_at": "08:00", "links": LINKS})
    assert text.subject == "[Đại hội XIV] Tổng hợp ngày 28/01/2026: 20 cảnh báo mới"
    assert all(f"Xã Số {n}: " in text.body for n in range(20))
    assert "- Xã: 40/47 đơn vị đã báo cáo (35 đúng hạn)" in text.body
    assert "19. Xã Số 18: phát thanh loa 0 lần trong tuần 2026-W04, dưới chỉ tiêu 1" in text.body
    assert "20. Xã Số 19: phát thanh loa 0 lần ngày 20/01/2026 (cao điểm)" in text.body


def test_a_breach_alert_tells_the_unit_what_to_do() -> None:
    text = render("breach", "vi", {"unit": UNIT, "campaign": CAMPAIGN,
                                    "breach": breach(1, "loudspeaker_weekly"), "links": LINKS})
    assert "phát thanh loa 0 lần trong tuần 2026-W04, dưới chỉ tiêu 1 lần/tuần" in text.body
    assert "3-5 lần/tuần" in text.body


def test_a_variable_left_out_is_an_error_not_a_blank() -> None:
    context = receipt_context()
    del context["counted"]
    with pytest.raises(UndefinedError):
        render("receipt", "vi", context)


ENTERED = {"credential_id": "cred-so", "label": "Trần Thị B, Phòng Báo chí - Xuất bản",
           "note": "Nhận bản giấy ngày 23/01, công văn số 12/UBND",
           "entered_at": datetime(2026, 1, 27, 2, 30, tzinfo=UTC)}


def entered_context() -> dict:
    """A receipt of a report the Department entered: received on paper at 09:00 23/01/2026."""
    context = receipt_context()
    context["receipt"] = context["receipt"].model_copy(update={
        "entered_by": EnteredBy(**ENTERED),
        "received_at": datetime(2026, 1, 23, 2, 0, tzinfo=UTC)})
    return context


def test_a_receipt_of_a_report_entered_on_the_units_behalf_says_by_whom_when_and_why() -> None:
    text = render("receipt", "vi", entered_context())
    assert ("Báo cáo này do Trần Thị B, Phòng Báo chí - Xuất bản nhập thay đơn vị vào hệ "
            "thống lúc 09:30 27/01/2026") in text.body
    assert "Ghi chú: Nhận bản giấy ngày 23/01, công văn số 12/UBND" in text.body
    assert ("- Nhận lúc: 09:00 23/01/2026 (thời điểm Sở nhận được báo cáo, dùng để đánh giá "
            "đúng hạn)\n- Hạn nộp: 17:00 26/01/2026\n") in text.body


def test_the_english_text_of_an_entered_report_says_the_same() -> None:
    sent = message("receipt", entered_context())
    _, _, english = sent.body.partition("English below")
    assert ("entered on your unit's behalf by Trần Thị B, Phòng Báo chí - Xuất bản at 09:30 "
            "27/01/2026") in english
    assert "Note: Nhận bản giấy ngày 23/01, công văn số 12/UBND" in english
    assert "- Received: 09:00 23/01/2026 (when the Department received it; timeliness is " \
           "judged by it)\n" in english


def test_a_units_own_receipt_names_no_one_entering_it() -> None:
    sent = message("receipt", receipt_context())
    assert "nhập thay" not in sent.body and "behalf" not in sent.body
    [received] = [line for line in sent.body.splitlines() if line.startswith("- Nhận lúc:")]
    assert "(" not in received


def test_the_receipts_webhook_data_says_who_entered_the_report() -> None:
    context = entered_context()
    [sent] = planning.receipt(context["receipt"], unit("xa-an-hung", contacts={
        "webhook_url": "https://xa-an-hung.example/hook"}), CAMPAIGN, PERIOD,
        NotificationRules(), datetime(2026, 1, 27, 3, 0, tzinfo=UTC))
    data = json.loads(sent.payload)
    assert data["entered_by"]["label"] == "Trần Thị B, Phòng Báo chí - Xuất bản"
    assert data["received_at"] == "2026-01-23T02:00:00+00:00"
