"""The portal's report form: the body its inputs make, the inputs a refusal points at, the
inputs a stored report fills in; and its sessions' expiry."""

from datetime import date

import pytest

from services.portal import forms
from services.portal.sessions import PortalSession, Sessions
from services.reporting.schemas import ReportIn

WEEK = (date(2026, 1, 19), date(2026, 1, 25))


def read(**inputs: str) -> forms.Filled:
    return forms.read(inputs, "dai-hoi-xiv", "2026-W04", *WEEK)


def test_the_filled_lines_make_a_report_intake_takes() -> None:
    filled = read(**{"loa-2026-01-19": "2", "loa-2026-01-20": "0", "mxh-zalo-so": "4",
                     "mxh-zalo-hinh-thuc": "video",
                     "mxh-zalo-minh-chung": "https://zalo.me/p/1\n\nhttps://zalo.me/p/2",
                     "nn-ko-so": "1", "article-so": "3", "article-kenh": "radio",
                     "vd-nguoi": "120", "ghi-chu": " Đã phát trên loa "})
    assert filled.errors == {}
    report = ReportIn.model_validate(filled.body)
    kinds = [a.kind for a in report.activities]
    assert kinds == ["loudspeaker_broadcast", "social_post", "foreign_language_item",
                     "article", "mobilisation"]
    assert filled.origin == ["loa", "mxh-zalo", "nn-ko", "article", "vd"]
    assert filled.body["activities"][0]["daily_counts"] == {"2026-01-19": 2, "2026-01-20": 0}
    assert filled.body["activities"][1]["evidence_urls"] == ["https://zalo.me/p/1",
                                                             "https://zalo.me/p/2"]
    assert filled.body["note"] == "Đã phát trên loa"


def test_an_empty_form_is_a_report_of_nothing() -> None:
    assert read().body["activities"] == []


@pytest.mark.parametrize(("value", "rule"), [("abc", "int_parsing"), ("-2", "greater_than_equal"),
                                             ("101", "less_than_equal"), ("٣", "int_parsing")])
def test_a_count_that_is_no_whole_number_in_range_is_caught_on_its_input(value: str,
                                                                         rule: str) -> None:
    filled = read(**{"loa-2026-01-21": value})
    assert filled.errors == {"loa-2026-01-21": rule}


@pytest.mark.parametrize(("field", "expected"), [
    ("activities.1.social_post.evidence_urls.0", "mxh-zalo-minh-chung"),
    ("body.activities.1.count", "mxh-zalo-so"),
    ("activities.0.daily_counts.2026-01-26", "loa-2026-01-26"),
    ("activities.0.daily_counts", "loa"),
    ("activities.2.foreign_language_item.format", "nn-ko-hinh-thuc"),
    ("note", "ghi-chu"),
    ("campaign", None),
    ("activities.9.count", None),
])
def test_a_refusal_points_at_the_input_of_its_line(field: str, expected: str | None) -> None:
    origin = ["loa", "mxh-zalo", "nn-ko"]
    assert forms.input_of(field, origin) == expected


def test_a_stored_report_fills_the_form_it_could_have_come_from() -> None:
    filled = read(**{"loa-2026-01-19": "2", "mxh-tiktok-so": "5",
                     "mxh-tiktok-hinh-thuc": "video", "mxh-tiktok-minh-chung": "https://t.tt/1",
                     "vd-nguoi": "7", "vd-luot": "9", "ghi-chu": "ghi chú"})
    values, dropped = forms.values_of(filled.body)
    assert read(**values).body == filled.body and dropped == 0


def test_what_the_form_cannot_show_is_counted_not_silently_merged() -> None:
    body = read(**{"mxh-zalo-so": "2", "mxh-zalo-hinh-thuc": "news"}).body
    body["activities"] += [
        {"kind": "social_post", "platform": "zalo", "format": "video", "count": 5},
        {"kind": "social_post", "platform": "other", "format": "news", "count": 1},
        {"kind": "mobilisation", "count": 3, "people_mobilised": 9, "shares": 9}]
    values, dropped = forms.values_of(body)
    assert dropped == 3 and values["mxh-zalo-so"] == "2"  # the first Zalo line is kept


def test_a_session_ends_after_its_idle_time_and_on_sign_out(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("services.portal.sessions.time.monotonic", lambda: clock[0])
    sessions = Sessions(idle_seconds=60)
    opened = sessions.open(PortalSession(token="hpk_x", scope="unit", unit_code="xa-a",
                                         kind="commune", name="Xã A"))
    clock[0] += 59
    assert sessions.get(opened.id) is opened  # its idle time starts again
    clock[0] += 59
    assert sessions.get(opened.id) is opened
    clock[0] += 61
    assert sessions.get(opened.id) is None
    again = sessions.open(PortalSession(token="hpk_x", scope="unit", unit_code="xa-a",
                                        kind="commune", name="Xã A"))
    sessions.close(again.id)
    assert sessions.get(again.id) is None
    assert "hpk_x" not in repr(again)
