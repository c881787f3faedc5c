"""The bulk intake template: one workbook per campaign that a unit fills in and sends back
to POST /v1/reports/bulk as it is (or saved as CSV UTF-8).

One sheet to fill in: the title, the instructions (Vietnamese, English beside), the
Vietnamese headers over the codes the parser keys on, then the rows. The kind, channel,
platform, format, language and period columns are drop-down lists of Vietnamese names
(intake takes a name or a code); the lists themselves sit on a hidden sheet, since a list
written into the validation cannot hold the commas of "Tin, bài". Numbers are formatted
with their thousands grouped; days (written dd/mm/yyyy), codes and notes as text.
"""

import io
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from services import periods
from services.events import CampaignSnapshot
from services.refusals import NotFound
from services.reporting.bulk import CHOICES, COLUMNS, HEADERS, XLSX
from services.web.auth import CallerDep
from services.web.errors import documented

router = APIRouter(prefix="/v1", tags=["reports"])

HEADER_ROW = 3  # the Vietnamese headers; the codes under them; the rows from FIRST_ROW
FIRST_ROW = HEADER_ROW + 2
ROWS = 5000  # rows given the lists and formats
WIDTHS = {"kind": 42, "note": 40, "evidence_url": 36, "day": 16}
# The day column is text: Excel set to read dates month first (en-US) would otherwise turn a
# typed 09/02/2026 into 2 September before intake sees it; intake reads text day first,
# and a real date cell still.
FORMATS = {"day": "@", "count": "#,##0", "people_mobilised": "#,##0",
           "shares": "#,##0", "period": "@", "report_id": "@", "note": "@",
           "evidence_url": "@"}
# What each column holds, shown as its header's comment: (Vietnamese, English)
HELP: dict[str, tuple[str, str]] = {
    "period": ("Bắt buộc. Kỳ báo cáo, chọn trong danh sách (ví dụ 2026-W04: tuần 4 năm 2026).",
               "Required. The period, from the list (2026-W04: ISO week 4 of 2026)."),
    "kind": ("Bắt buộc. Loại hoạt động, chọn trong danh sách.",
             "Required. The kind of activity, from the list."),
    "count": ("Số lượng, số nguyên không âm. Phát thanh trên loa: số buổi trong ngày ghi ở "
              "cột Ngày phát thanh.", "A whole non-negative number. Loudspeaker rows: that "
              "day's broadcasts."),
    "day": ("Chỉ cho phát thanh trên loa: mỗi dòng một ngày, dạng dd/mm/yyyy (09/02/2026).",
            "Loudspeaker rows only: one day per row, as dd/mm/yyyy (09/02/2026)."),
    "channel": ("Cho Tin, bài: nơi đăng tải.", "For news items and articles: where it ran."),
    "platform": ("Cho Bài đăng mạng xã hội: nền tảng.", "For social media posts: the platform."),
    "format": ("Cho Bài đăng mạng xã hội (Tin, Bài viết, Infographic, Video) và tin, bài "
               "tiếng nước ngoài (Chương trình, Bản tin, Bài viết).", "For social media posts "
               "(news, article, infographic, video) and foreign-language items (programme, "
               "bulletin, article)."),
    "language": ("Cho tin, bài tiếng nước ngoài.", "For foreign-language items."),
    "people_mobilised": ("Cho Lượt chia sẻ: số cán bộ, đảng viên tham gia.",
                         "For shares by mobilised staff: people who shared."),
    "shares": ("Cho Lượt chia sẻ: số lượt chia sẻ.", "For shares by mobilised staff: shares."),
    "evidence_url": ("Không bắt buộc. Đường dẫn minh chứng, bắt đầu bằng https://.",
                     "Optional. A link to evidence, starting with https://."),
    "report_id": ("Không bắt buộc. Cùng một mã cho mọi dòng của một kỳ: gửi lại tệp không "
                  "bị tính hai lần.", "Optional. One id for all rows of a period: sending "
                  "the file again counts it once."),
    "note": ("Không bắt buộc. Ghi chú.", "Optional. A note."),
}
INSTRUCTIONS_VI = """HƯỚNG DẪN
1. Mỗi dòng là một hoạt động; các dòng cùng một kỳ báo cáo gộp thành báo cáo của kỳ đó.
2. Bắt buộc: Kỳ báo cáo và Loại hoạt động (chọn trong danh sách thả xuống).
3. Tin, bài cần Kênh đăng tải; Bài đăng mạng xã hội cần Nền tảng và Hình thức; tin, bài \
tiếng nước ngoài cần Ngôn ngữ và Hình thức; Lượt chia sẻ cần Số người tham gia và Số lượt \
chia sẻ.
4. Phát thanh trên loa: mỗi dòng một ngày, ghi Ngày phát thanh (dd/mm/yyyy, ví dụ \
09/02/2026) và số buổi trong ngày ở cột Số lượng.
5. Không sửa hai dòng tiêu đề; nhập từ dòng {first}. Một kỳ có dòng sai thì cả kỳ bị trả \
lại, kèm dòng, cột và lỗi; các kỳ khác vẫn được nhận.
6. Gửi lại chính tệp .xlsx này, hoặc lưu thành “CSV UTF-8 (phân cách bằng dấu phẩy)”."""
INSTRUCTIONS_EN = """INSTRUCTIONS
1. One row per activity; the rows of one period make that period's report.
2. Required: the period and the kind of activity (from the drop-down lists).
3. News items and articles need a channel; social media posts a platform and a format; \
foreign-language items a language and a format; shares by staff the people and the shares.
4. Loudspeaker broadcasts: one row per day, with the day (dd/mm/yyyy, e.g. 09/02/2026) and \
that day's broadcasts as the count.
5. Leave the two header rows as they are; fill in from row {first}. A period with a bad row \
is sent back whole, with the line, the column and the rule; the other periods go through.
6. Send this .xlsx file back, or save it as “CSV UTF-8 (Comma delimited)”."""
TEMPLATE: dict[int | str, dict[str, Any]] = {200: {
    "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
    "description": "The workbook"}}
_TITLE = Font(bold=True, size=13)
_HEADER = Font(bold=True)
_CODE = Font(italic=True, color="666666", size=9)
_FILL = PatternFill("solid", fgColor="DDEBF7")
_TOP = Alignment(wrap_text=True, vertical="top")


@router.get("/reports/bulk/template.xlsx", response_class=Response,
            responses=TEMPLATE | documented(401, 404, 422, 503))
def bulk_template(request: Request, who: CallerDep,
                  campaign: Annotated[str, Query(max_length=64)]) -> Response:
    """The campaign's bulk intake workbook, to fill in and send to POST /v1/reports/bulk."""
    found = request.app.state.directory.campaigns.get(campaign)
    if found is None:
        raise NotFound.on("campaign", "campaign_unknown", f"no campaign with code {campaign!r}")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", found.code)
    return Response(workbook(found), media_type=XLSX, headers={
        "content-disposition": f'attachment; filename="mau-bao-cao-{name}.xlsx"'})


def workbook(campaign: CampaignSnapshot) -> bytes:
    """The template of a campaign, as .xlsx bytes."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = "Báo cáo"
    choices = book.create_sheet("Danh mục")
    choices.sheet_state = "hidden"
    _top(sheet, campaign)
    _headers(sheet)
    lists = {column: [vi for vi, _ in names.values()] for column, names in CHOICES.items()}
    lists["period"] = [p.name for p in periods.of_campaign(campaign)]
    for number, (column, values) in enumerate(lists.items(), 1):
        _drop_down(sheet, choices, column, number, values)
    sheet.freeze_panes = f"A{FIRST_ROW}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _top(sheet: Worksheet, campaign: CampaignSnapshot) -> None:
    """The title and the instructions, Vietnamese on the left, English beside."""
    last, middle = get_column_letter(len(COLUMNS)), len(COLUMNS) // 2
    span = (f"{periods.written_day(campaign.starts_on)} – "
            f"{periods.written_day(campaign.ends_on)}")
    sheet["A1"] = (f"Mẫu báo cáo hàng loạt / Bulk report template: {campaign.name} "
                   f"({campaign.code}), {span}")
    sheet["A1"].font = _TITLE
    sheet.merge_cells(f"A1:{last}1")
    sheet["A2"] = INSTRUCTIONS_VI.format(first=FIRST_ROW)
    sheet.merge_cells(f"A2:{get_column_letter(middle)}2")
    right = get_column_letter(middle + 1)
    sheet[f"{right}2"] = INSTRUCTIONS_EN.format(first=FIRST_ROW)
    sheet.merge_cells(f"{right}2:{last}2")
    sheet["A2"].alignment = sheet[f"{right}2"].alignment = _TOP
    sheet.row_dimensions[2].height = 190


def _headers(sheet: Worksheet) -> None:
    """The Vietnamese headers (each with its help as a comment) over the codes; each
    column's width and format."""
    for number, code in enumerate(COLUMNS, 1):
        letter = get_column_letter(number)
        header = sheet.cell(HEADER_ROW, number, HEADERS[code])
        header.font, header.fill = _HEADER, _FILL
        header.alignment = Alignment(wrap_text=True, vertical="center")
        vi, en = HELP[code]
        header.comment = Comment(f"{vi}\n\n{en}", "Sở VHTTDL Hải Phòng", height=160, width=300)
        sheet.cell(HEADER_ROW + 1, number, code).font = _CODE
        sheet.column_dimensions[letter].width = WIDTHS.get(code, 18)
        if code in FORMATS:
            sheet.column_dimensions[letter].number_format = FORMATS[code]


def _drop_down(sheet: Worksheet, choices: Worksheet, column: str, number: int,
               values: list[str]) -> None:
    """A column's cells as a list to pick from, the list kept in column `number` of the
    hidden sheet. A value off the list only warns: intake takes the codes too."""
    for row, value in enumerate(values, 1):
        choices.cell(row, number, value)
    where = get_column_letter(number)
    name = HEADERS[column]
    check = DataValidation(
        type="list", formula1=f"='{choices.title}'!${where}$1:${where}${max(len(values), 1)}",
        allow_blank=True, errorStyle="warning", showErrorMessage=True,
        errorTitle=name, error=f"Hãy chọn trong danh sách / pick from the list: {name}")
    letter = get_column_letter(COLUMNS.index(column) + 1)
    check.add(f"{letter}{FIRST_ROW}:{letter}{FIRST_ROW + ROWS - 1}")
    sheet.add_data_validation(check)
