"""Reading a bulk CSV file: one report per period, and each row's problems on its own line."""

from datetime import date

import pytest

from services.events.reports import Banner, LoudspeakerBroadcast, SocialPost
from services.refusals import Invalid, Malformed
from services.reporting import bulk

HEADER = "period,kind,count,day,platform,format,report_id,evidence_url,note\n"


def read(rows: str) -> dict[str, bulk.Group]:
    return {group.period: group for group in bulk.read((HEADER + rows).encode(), "dai-hoi-xiv")}


def problems(group: bulk.Group) -> dict[int, list[tuple[str, str]]]:
    return {line: [(p.field, p.rule) for p in found] for line, found in group.errors.items()}


def test_a_good_file_gives_one_report_per_period() -> None:
    groups = read("2026-W03,banner,1,,,,w03,https://haiphong.gov.vn/banner,treo ở chợ\n"
                  "2026-W03,loudspeaker_broadcast,2,2026-01-13,,,w03,,\n"
                  "2026-W03,loudspeaker_broadcast,1,2026-01-14,,,w03,,\n"
                  "2026-W03,loudspeaker_broadcast,1,2026-01-13,,,w03,,sáng và chiều\n"
                  "2026-W04,social_post,3,,facebook,video,,,\n")
    assert list(groups) == ["2026-W03", "2026-W04"]
    w03, w04 = groups["2026-W03"], groups["2026-W04"]
    assert (w03.lines, w04.lines, w03.errors, w04.errors) == ([2, 3, 4, 5], [6], {}, {})
    assert w03.body is not None and w04.body is not None
    assert (w03.body.report_id, w03.body.campaign, w03.body.period) == (
        "w03", "dai-hoi-xiv", "2026-W03")
    banner, broadcast = w03.body.activities
    assert isinstance(banner, Banner)
    assert [str(url) for url in banner.evidence_urls] == ["https://haiphong.gov.vn/banner"]
    assert isinstance(broadcast, LoudspeakerBroadcast)
    assert broadcast.daily_counts == {date(2026, 1, 13): 3, date(2026, 1, 14): 1}
    assert w03.body.note == "treo ở chợ\nsáng và chiều"
    [post] = w04.body.activities
    assert isinstance(post, SocialPost) and (post.count, post.platform) == (3, "facebook")
    assert w04.body.report_id is None


def test_a_byte_order_mark_and_blank_lines_are_taken_in_stride() -> None:
    raw = ("\ufeff" + HEADER + "\n2026-W03,banner,1,,,,,,\n\n2026-W03,banner,2,,,,,,\n").encode()
    [group] = bulk.read(raw, "dai-hoi-xiv")
    assert group.lines == [3, 5] and group.body is not None


def test_a_bad_header_names_each_wrong_column() -> None:
    with pytest.raises(Invalid) as refused:
        bulk.read(b"tuan,kind,so_luong\n2026-W03,banner,1\n", "dai-hoi-xiv")
    assert refused.value.code == "bad_header"
    assert {(f.field, f.rule) for f in refused.value.fields} == {
        ("tuan", "unknown_column"), ("so_luong", "unknown_column"), ("period", "missing_column")}


def test_a_file_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(Malformed) as refused:
        bulk.read(HEADER.encode() + b"2026-W03,banner,1,,,,,,Ch\xf0\n", "dai-hoi-xiv")
    assert refused.value.code == "not_utf8"


def test_a_loudspeaker_row_without_a_day_is_refused_on_its_line() -> None:
    group = read("2026-W03,loudspeaker_broadcast,2,2026-01-13,,,,,\n"
                 "2026-W03,loudspeaker_broadcast,1,,,,,,\n")["2026-W03"]
    assert group.body is None
    assert problems(group) == {3: [("day", "missing")]}


def test_a_loudspeaker_row_with_a_bad_day_or_count_is_refused_on_its_line() -> None:
    group = read("2026-W03,loudspeaker_broadcast,2,2026-01-13,,,,,\n"
                 "2026-W03,loudspeaker_broadcast,1,01/13/2026,,,,,\n"  # month first: no
                 "2026-W03,loudspeaker_broadcast,hai,2026-01-14,,,,,\n")["2026-W03"]
    assert group.body is None
    assert problems(group) == {3: [("day", "day_format")], 4: [("count", "whole_number")]}


def test_two_report_ids_in_one_period_are_refused_on_the_row_that_differs() -> None:
    groups = read("2026-W03,banner,1,,,,w03,,\n"
                  "2026-W03,banner,2,,,,w03,,\n"
                  "2026-W03,banner,3,,,,w03-khac,,\n"
                  "2026-W04,banner,1,,,,w04,,\n")
    assert groups["2026-W03"].body is None
    assert problems(groups["2026-W03"]) == {4: [("report_id", "one_id_per_period")]}
    assert groups["2026-W04"].body is not None and groups["2026-W04"].body.report_id == "w04"


def test_errors_land_on_the_row_a_spreadsheet_shows() -> None:
    groups = read('2026-W03,banner,1,,,,,,"ghi chú\ntrên hai dòng"\n'  # row 2, on two lines
                  "2026-W03,social_post,1,,myspace,video,,,\n"  # row 3
                  "2026-W04,banner,-1,,,,,,\n"  # row 4
                  "2026-W04,banner,1,,,,,,a,b\n")  # row 5: an unquoted comma
    assert groups["2026-W03"].lines == [2, 3]
    assert problems(groups["2026-W03"]) == {3: [("social_post.platform", "enum")]}
    assert problems(groups["2026-W04"]) == {4: [("banner.count", "greater_than_equal")],
                                            5: [("row", "extra_cells")]}


def test_two_rows_of_one_day_are_added_and_their_sum_is_held_to_the_days_limit() -> None:
    groups = read("2026-W03,loudspeaker_broadcast,60,2026-01-13,,,,,\n"
                  "2026-W03,loudspeaker_broadcast,1,2026-01-14,,,,,\n"
                  "2026-W03,loudspeaker_broadcast,60,2026-01-13,,,,,\n"
                  "2026-W04,loudspeaker_broadcast,60,2026-01-20,,,,,\n"
                  "2026-W04,loudspeaker_broadcast,40,2026-01-20,,,,,\n")
    rule = ("loudspeaker_broadcast.daily_counts.2026-01-13", "less_than_equal")
    assert problems(groups["2026-W03"]) == {2: [rule], 4: [rule]}
    assert "lines 2, 4" in groups["2026-W03"].errors[2][0].message
    w04 = groups["2026-W04"].body
    assert w04 is not None and isinstance(w04.activities[0], LoudspeakerBroadcast)
    assert w04.activities[0].daily_counts == {date(2026, 1, 20): 100}


def test_days_outside_the_period_are_refused_on_the_rows_that_give_them() -> None:
    groups = read("2026-W03,loudspeaker_broadcast,1,2026-01-12,,,,,\n"
                  "2026-W03,loudspeaker_broadcast,1,2026-01-19,,,,,\n"
                  "2026-W03,loudspeaker_broadcast,1,2026-01-13,,,,,\n"
                  "2026-W03,loudspeaker_broadcast,1,2026-01-19,,,,,\n")
    outside = [("day", "day_outside_period")]
    assert problems(groups["2026-W03"]) == {3: outside, 5: outside}
    assert "2026-01-12 to 2026-01-18" in groups["2026-W03"].errors[3][0].message


def test_a_refused_period_reports_each_row_with_its_own_reasons() -> None:
    group = read("2026-W03,banner,1,,,,,,\n2026-W03,banner,-1,,,,,,\n")["2026-W03"]
    rows = bulk.rejected(group)
    assert [(r.line, r.status, [e.field for e in r.errors]) for r in rows] == [
        (2, "rejected", []), (3, "rejected", ["banner.count"])]
    shared = bulk.rejected(group, Invalid.on("period", "period_format", "not a week"))
    assert [e.rule for e in shared[0].errors] == ["period_format"]


def test_a_loudspeaker_row_is_held_to_the_loudspeaker_lines_columns() -> None:
    group = read("2026-W03,loudspeaker_broadcast,2,2026-01-13,facebook,,,,\n"
                 "2026-W03,loudspeaker_broadcast,1,2026-01-14,,,,https://xa.vn/loa,\n")["2026-W03"]
    assert problems(group) == {2: [("loudspeaker_broadcast.platform", "extra_forbidden")]}
