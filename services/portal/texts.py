"""What the pages say, Vietnamese first and English beside it (the language switch), and
the Vietnamese for each rule the APIs name in a refusal."""

from typing import Any

LANGUAGES = ("vi", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "app": ("Báo cáo tuyên truyền Đại hội XIV", "Congress XIV communication reports"),
    "department": ("Sở Văn hóa, Thể thao và Du lịch Hải Phòng",
                   "Hai Phong Department of Culture, Sports and Tourism"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "token": ("Mã truy cập", "Access token"),
    "token_help": ("Mã do Sở cấp cho đơn vị hoặc lãnh đạo (bắt đầu bằng hpk_).",
                   "The token the Department issued to your unit or to you (starts hpk_)."),
    "token_refused": ("Mã truy cập không đúng hoặc đã bị thu hồi.",
                      "The token is unknown or has been revoked."),
    "services_down": ("Hệ thống đang bận hoặc chưa sẵn sàng, xin thử lại sau ít phút.",
                      "The system is busy or not ready yet: try again in a few minutes."),
    "language": ("English", "Tiếng Việt"),
    "periods": ("Các kỳ báo cáo", "Reporting periods"),
    "period": ("Kỳ", "Period"),
    "days": ("Từ ngày – đến ngày", "Days"),
    "deadline": ("Hạn nộp", "Deadline"),
    "status": ("Tình trạng", "Status"),
    "reported_on_time": ("Đã nộp đúng hạn", "Reported on time"),
    "reported_late": ("Đã nộp muộn", "Reported late"),
    "not_reported": ("Chưa nộp", "Not reported"),
    "overdue": ("Quá hạn, chưa nộp", "Overdue"),
    "upcoming": ("Chưa đến kỳ", "Not started"),
    "current": ("kỳ hiện tại", "current period"),
    "report": ("Báo cáo", "Report"),
    "revise": ("Sửa báo cáo", "Revise"),
    "submit": ("Gửi báo cáo", "Submit the report"),
    "report_for": ("Báo cáo kỳ", "Report for"),
    "loudspeaker": ("Phát thanh trên hệ thống loa cơ sở (số lần mỗi ngày)",
                    "Loudspeaker broadcasts (times a day)"),
    "loudspeaker_target": ("Chỉ tiêu: {weekly} lần/tuần; {daily} lần/ngày trong cao điểm.",
                           "Target: {weekly} a week; {daily} a day at the peak."),
    "social": ("Tin, bài trên mạng xã hội (theo nền tảng)", "Social media posts (by platform)"),
    "foreign": ("Tin, bài tiếng nước ngoài (theo ngôn ngữ)",
                "Foreign-language items (by language)"),
    "other": ("Hoạt động khác", "Other activities"),
    "count": ("Số lượng", "Count"),
    "format": ("Hình thức", "Form"),
    "evidence": ("Đường dẫn minh chứng (mỗi dòng một đường dẫn)",
                 "Evidence links (one a line)"),
    "people_mobilised": ("Số người tham gia chia sẻ", "People who shared"),
    "shares": ("Số lượt chia sẻ", "Shares"),
    "channel": ("Kênh", "Channel"),
    "note": ("Ghi chú", "Note"),
    "fix_below": ("Báo cáo chưa được gửi: xin sửa các mục được đánh dấu bên dưới.",
                  "The report was not sent: correct the marked fields below."),
    "receipt": ("Biên nhận báo cáo", "Report receipt"),
    "receipt_lead": ("Sở đã nhận báo cáo của đơn vị.", "The Department has your report."),
    "report_id": ("Mã báo cáo", "Report id"),
    "version": ("Lần gửi", "Version"),
    "received_at": ("Thời điểm nhận", "Received"),
    "on_time": ("Đúng hạn", "On time"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "back_home": ("Về trang đơn vị", "Back to the unit's page"),
    "my_reports": ("Các lần gửi", "Submissions"),
    "standing": ("Kết quả phát thanh so với chỉ tiêu", "Broadcasts against the targets"),
    "progress": ("Tiến độ báo cáo", "Reporting progress"),
    "completeness": ("Tỷ lệ đã nộp", "Completeness"),
    "timeliness": ("Tỷ lệ đúng hạn", "Timeliness"),
    "expected": ("Số đơn vị phải nộp", "Units expected"),
    "reported": ("Đã nộp", "Reported"),
    "missing": ("Chưa nộp", "Missing"),
    "units": ("Đơn vị", "Units"),
    "unit": ("Đơn vị", "Unit"),
    "kind": ("Loại đơn vị", "Unit kind"),
    "all_kinds": ("Tất cả", "All"),
    "filter": ("Lọc", "Filter"),
    "broadcasts": ("Lượt phát thanh", "Broadcasts"),
    "live": ("Số liệu tự cập nhật khi có báo cáo mới.",
             "Figures update by themselves when a report comes in."),
    "forbidden": ("Tài khoản này không được xem trang này.",
                  "This account may not open this page."),
    "not_found": ("Không tìm thấy trang.", "Page not found."),
    "csrf": ("Biểu mẫu đã hết hạn hoặc không hợp lệ. Xin tải lại trang và gửi lại.",
             "The form has expired or is not valid: reload the page and send it again."),
    "skip": ("Bỏ qua, tới nội dung chính", "Skip to the main content"),
    "overview": ("Tổng quan đợt tuyên truyền", "Campaign overview"),
    "trend": ("Diễn biến tỷ lệ đã nộp và đúng hạn qua các kỳ",
              "Completeness and timeliness over the periods"),
    "by_period": ("Theo từng kỳ", "Period by period"),
    "state": ("Trạng thái", "State"),
    "state_upcoming": ("Chưa đến", "Not started"),
    "state_open": ("Đang nhận", "Open"),
    "state_due": ("Đã hết hạn", "Deadline passed"),
    "below_target": ("Đơn vị dưới chỉ tiêu loa", "Units below a loudspeaker target"),
    "download_csv": ("Tải CSV (.csv)", "Download CSV (.csv)"),
    "download_xlsx": ("Tải Excel (.xlsx)", "Download Excel (.xlsx)"),
    "download_docx": ("Tải Word (.docx)", "Download Word (.docx)"),
    "compiled_report": ("Báo cáo tổng hợp gửi UBND thành phố",
                        "The compiled report for the City People's Committee"),
    "compiled_report_lead": (
        "Báo cáo theo thể thức văn bản hành chính (Nghị định 30/2020/NĐ-CP) tổng hợp kết quả "
        "báo cáo của các đơn vị trong khoảng ngày đã chọn; bản Excel gồm các bảng số liệu "
        "giống bản Word, mỗi bảng một trang tính.",
        "An administrative report (Decree 30/2020/ND-CP) compiling the units' reports over "
        "the days chosen; the Excel file holds the same tables, one sheet each."),
    "from_day": ("Từ ngày", "From"),
    "to_day": ("Đến ngày", "To"),
    "as_of": ("Số liệu tính đến", "Figures as of"),
    "as_of_help": ("Để trống: tính đến lúc tải. Chọn lại cùng thời điểm luôn cho cùng số "
                   "liệu, kể cả khi đơn vị gửi thêm hoặc sửa báo cáo sau đó (giờ Hải Phòng).",
                   "Empty: as of the download. The same time always gives the same figures, "
                   "even after units send or revise reports (Hai Phong time)."),
    "compiled_report_link": ("Báo cáo tổng hợp (Word, Excel)",
                             "Compiled report (Word, Excel)"),
    "missing_units": ("Đơn vị chưa nộp", "Units that have not reported"),
    "contacts": ("Liên hệ", "Contacts"),
    "all_missing_csv": ("Tải toàn bộ danh sách chưa nộp (CSV)",
                        "Download every missing unit (CSV)"),
    "all_missing_xlsx": ("Tải toàn bộ danh sách chưa nộp (Excel .xlsx)",
                         "Download every missing unit (Excel .xlsx)"),
    "issue_xlsx": ("Cấp và tải Excel (.xlsx)", "Issue, as Excel (.xlsx)"),
    "issue_csv": ("Cấp và tải CSV (.csv)", "Issue, as CSV (.csv)"),
    "open_period": ("Xem kỳ", "Open the period"),
    "none_missing": ("Tất cả đơn vị đã nộp.", "Every unit has reported."),
    "more": ("Trang sau", "Next page"),
    "admin": ("Quản trị", "Administration"),
    "admin_units": ("Đơn vị báo cáo", "Reporting units"),
    "admin_credentials": ("Mã truy cập", "Access tokens"),
    "create_unit": ("Thêm đơn vị", "Add a unit"),
    "name": ("Tên", "Name"),
    "code": ("Mã đơn vị", "Unit code"),
    "code_help": ("Để trống: hệ thống tự tạo từ tên.", "Leave empty: made from the name."),
    "email": ("Thư điện tử", "Email"),
    "phone": ("Điện thoại", "Phone"),
    "active_from": ("Phải báo cáo từ ngày", "Reports from"),
    "active_until": ("Ngừng báo cáo sau ngày", "Reports until"),
    "retire": ("Ngừng", "Retire"),
    "retired": ("đã ngừng từ", "retired after"),
    "import_units": ("Nhập danh sách đơn vị từ tệp CSV", "Import units from a CSV file"),
    "import_file": ("Tệp CSV (UTF-8)", "CSV file (UTF-8)"),
    "import": ("Nhập", "Import"),
    "import_result": ("Kết quả nhập", "Import result"),
    "created": ("Thêm mới", "Created"),
    "updated": ("Cập nhật", "Updated"),
    "unchanged": ("Không đổi", "Unchanged"),
    "rejected": ("Bị từ chối", "Rejected"),
    "line": ("Dòng", "Line"),
    "bulk_title": ("Nộp báo cáo bằng tệp Excel", "Report with an Excel file"),
    "bulk_lead": ("Tải mẫu của đợt, điền mỗi hoạt động một dòng (nhiều kỳ trong một tệp), rồi "
                  "gửi lại tệp .xlsx, hoặc tệp đã lưu thành CSV UTF-8.",
                  "Download the campaign's template, fill in one row per activity (several "
                  "periods in one file), and send back the .xlsx file, or the file saved as "
                  "CSV UTF-8."),
    "bulk_template": ("Tải mẫu Excel (.xlsx)", "Download the Excel template (.xlsx)"),
    "bulk_file": ("Tệp đã điền (.xlsx hoặc .csv)", "The filled file (.xlsx or .csv)"),
    "bulk_send": ("Gửi tệp", "Send the file"),
    "bulk_result": ("Kết quả nộp tệp", "The file's result"),
    "bulk_counts": ("Được nhận: {accepted} kỳ; đã nhận trước đó: {replayed} kỳ; bị trả lại: "
                    "{rejected} kỳ (một kỳ có dòng sai bị trả lại cả kỳ).",
                    "Accepted: {accepted} periods; already received: {replayed}; sent back: "
                    "{rejected} (a period with a bad row is sent back whole)."),
    "bulk_accepted": ("Đã nhận", "Accepted"),
    "bulk_replayed": ("Đã nhận trước đó", "Already received"),
    "bulk_rejected": ("Bị trả lại", "Sent back"),
    "bulk_problems": ("Các dòng cần sửa", "Rows to correct"),
    "bulk_refused": ("Tệp không được nhận:", "The file was not taken:"),
    "bulk_again": ("Nộp tệp khác", "Send another file"),
    "column": ("Cột", "Column"),
    "reason": ("Lý do", "Reason"),
    "saved": ("Đã lưu.", "Saved."),
    "import_started": ("Tệp lớn: hệ thống đang nhập ở chế độ nền; tải lại trang sau ít phút.",
                       "A large file: it is being imported in the background; reload in a "
                       "few minutes."),
    "issue_token": ("Cấp mã truy cập", "Issue a token"),
    "issue_many": ("Cấp mã cho nhiều đơn vị (tải tệp CSV, chỉ hiện một lần)",
                   "Tokens for many units (a CSV file, shown once)"),
    "unit_codes": ("Mã các đơn vị, mỗi dòng một mã", "Unit codes, one a line"),
    "replace": ("Thu hồi các mã cũ của các đơn vị này", "Revoke these units' earlier tokens"),
    "scope": ("Phạm vi", "Scope"),
    "scope_unit": ("Đơn vị", "Unit"),
    "scope_leadership": ("Lãnh đạo", "Leadership"),
    "label": ("Người hoặc nơi giữ mã", "Held by"),
    "issue": ("Cấp", "Issue"),
    "revoke": ("Thu hồi", "Revoke"),
    "revoked": ("Đã thu hồi", "Revoked"),
    "issued_at": ("Cấp lúc", "Issued"),
    "token_once": ("Mã truy cập chỉ hiện một lần này: hãy sao chép và trao cho người giữ. "
                   "Mã dùng được ngay.",
                   "The token is shown this once: copy it and hand it over. It works at once."),
    "prefix": ("Đầu mã", "Prefix"),
    "broadcasts_week": ("Lượt phát thanh trong kỳ", "Broadcasts in the period"),
    "peak_least": ("Ít nhất trong ngày cao điểm", "Fewest on a peak day"),
    "platforms": ("Nền tảng", "Platforms"),
    "languages_col": ("Ngôn ngữ", "Languages"),
    "loudspeaker_checked": ("Đơn vị cấp xã đã báo cáo loa", "Commune-level units judged"),
    "below_weekly": ("Dưới chỉ tiêu tuần", "Below the weekly target"),
    "below_daily": ("Dưới chỉ tiêu ngày cao điểm", "Below the peak-day target"),
    "coverage": ("Độ phủ nền tảng và ngôn ngữ", "Platforms and languages covered"),
    "sort_by": ("Sắp xếp theo", "Sort by"),
    "target": ("chỉ tiêu", "target"),
    "met": ("đạt", "met"),
    "not_met": ("chưa đạt", "not met"),
    "not_on_form": ("Báo cáo đang có {count} mục gửi qua API hoặc tệp mà biểu mẫu này không "
                    "hiển thị được; gửi lại từ đây sẽ thay thế cả báo cáo, không còn các mục đó.",
                    "The standing report holds {count} entries sent through the API or a file "
                    "that this form cannot show; sending from here replaces the whole report, "
                    "without them."),
    "running": ("kỳ chưa kết thúc", "period still running"),
    "details": ("Hình thức, đường dẫn minh chứng", "Form, evidence links"),
    "on_behalf": ("Nhập báo cáo thay đơn vị", "Enter a report for a unit"),
    "on_behalf_help": ("Báo cáo đơn vị gửi Sở bằng bản giấy hoặc thư điện tử: nhập số liệu, "
                       "mã đơn vị, ngày (và giờ, nếu biết) Sở nhận được, cách nhận. Đúng hạn "
                       "hay muộn hạn tính theo thời điểm nhận này.",
                       "A report a unit sent the Department on paper or by email: enter its "
                       "figures, the unit's code, the day (and time, if known) it arrived and "
                       "how. It is on time or late by that moment."),
    "on_behalf_unit": ("Mã đơn vị", "Unit code"),
    "on_behalf_day": ("Ngày Sở nhận được", "Day it reached the Department"),
    "on_behalf_time": ("Giờ nhận (nếu biết)", "Time it arrived (if known)"),
    "on_behalf_note": ("Cách nhận, số công văn", "How it arrived, dispatch number"),
    "on_behalf_enter": ("Nhập báo cáo", "Enter a report"),
    "on_behalf_again": ("Nhập báo cáo khác cho kỳ này", "Enter another report for this period"),
    "entered_by": ("Người nhập thay", "Entered by"),
}

KINDS: dict[str, tuple[str, str]] = {
    "commune": ("Xã", "Commune"), "ward": ("Phường", "Ward"),
    "special_zone": ("Đặc khu", "Special zone"), "department": ("Sở, ngành", "Department"),
    "press": ("Cơ quan báo chí", "Press"), "portal": ("Cổng thông tin", "Portal"),
    "social_page": ("Trang mạng xã hội", "Social page"),
}
PLATFORMS = {"facebook": "Facebook", "zalo": "Zalo", "youtube": "YouTube", "tiktok": "TikTok"}
LANGUAGE_NAMES: dict[str, tuple[str, str]] = {
    "en": ("Tiếng Anh", "English"), "zh": ("Tiếng Trung", "Chinese"),
    "ja": ("Tiếng Nhật", "Japanese"), "ko": ("Tiếng Hàn", "Korean")}
SOCIAL_FORMATS: dict[str, tuple[str, str]] = {
    "news": ("Tin", "News"), "article": ("Bài viết", "Article"),
    "infographic": ("Infographic", "Infographic"), "video": ("Video", "Video")}
FOREIGN_FORMATS: dict[str, tuple[str, str]] = {
    "bulletin": ("Bản tin", "Bulletin"), "programme": ("Chương trình", "Programme"),
    "article": ("Bài viết", "Article")}
OTHER_KINDS: dict[str, tuple[str, str]] = {
    "banner": ("Băng rôn, banner trên cổng/trang thông tin", "Banners on the portal or site"),
    "portal_column": ("Chuyên mục trên cổng/trang thông tin", "Portal columns"),
    "document_publication": ("Đăng tải dự thảo văn kiện", "Draft documents published"),
    "multimedia_product": ("Sản phẩm đa phương tiện", "Multimedia products"),
    "article": ("Tin, bài trên báo chí, cổng thông tin", "News items and articles"),
}
CHANNELS: dict[str, tuple[str, str]] = {
    "press": ("Báo in", "Press"), "portal": ("Cổng thông tin", "Portal"),
    "website": ("Trang thông tin", "Website"), "radio": ("Phát thanh", "Radio"),
    "tv": ("Truyền hình", "TV")}
WEEKDAYS = (("Thứ Hai", "Mon"), ("Thứ Ba", "Tue"), ("Thứ Tư", "Wed"), ("Thứ Năm", "Thu"),
            ("Thứ Sáu", "Fri"), ("Thứ Bảy", "Sat"), ("Chủ Nhật", "Sun"))

# The rules the APIs name (services.refusals, pydantic's error types), as a person reads them.
RULES: dict[str, tuple[str, str]] = {
    "greater_than_equal": ("Phải là số không âm.", "Must not be negative."),
    "less_than_equal": ("Vượt quá giới hạn cho phép.", "Over the allowed limit."),
    "int_parsing": ("Phải là một số nguyên.", "Must be a whole number."),
    "int_from_float": ("Phải là một số nguyên.", "Must be a whole number."),
    "url_parsing": ("Đường dẫn không hợp lệ: cần đầy đủ, bắt đầu bằng http:// hoặc https://.",
                    "Not a valid link: give it whole, starting http:// or https://."),
    "url_scheme": ("Đường dẫn phải bắt đầu bằng http:// hoặc https://.",
                   "A link must start with http:// or https://."),
    "url_too_long": ("Đường dẫn quá dài.", "The link is too long."),
    "too_long": ("Quá nhiều mục.", "Too many entries."),
    "string_too_long": ("Nội dung quá dài.", "The text is too long."),
    "day_outside_period": ("Ngày này không thuộc kỳ báo cáo.", "This day is not in the period."),
    "period_outside_campaign": ("Kỳ này nằm ngoài thời gian của đợt tuyên truyền.",
                                "This period is outside the campaign."),
    "period_format": ("Kỳ báo cáo không hợp lệ.", "Not a valid period."),
    "campaign_not_running": ("Đợt tuyên truyền đã dừng nhận báo cáo.",
                             "The campaign no longer takes reports."),
    "unit_retired": ("Đơn vị không còn phải báo cáo kỳ này.",
                     "The unit no longer reports for this period."),
    "unit_not_active": ("Đơn vị chưa phải báo cáo kỳ này.",
                        "The unit did not report yet in this period."),
    "value_error": ("Giá trị không hợp lệ.", "Not a valid value."),
    "missing": ("Cần điền mục này.", "This is required."),
    "string_too_short": ("Cần điền mục này.", "This is required."),
    "enum": ("Hãy chọn một giá trị trong danh sách.", "Choose one of the list."),
    "unit_not_found": ("Không có đơn vị mang mã này.", "No unit has this code."),
    "duplicate_unit": ("Có mã đơn vị bị nhập hai lần.", "A unit code is given twice."),
    "conflict": ("Trùng với dữ liệu đã có.", "Clashes with what is stored."),
    "name_taken": ("Đã có đơn vị mang tên này.", "A unit already has this name."),
    "code_taken": ("Mã đơn vị này đã được dùng.", "This code is taken."),
    "invisible_character": ("Tên chứa ký tự ẩn: hãy gõ lại.",
                            "The name holds hidden characters: type it again."),
    "value_error.email": ("Địa chỉ thư điện tử không hợp lệ.", "Not a valid email address."),
    "string_pattern_mismatch": ("Không đúng định dạng.", "Not in the expected form."),
    "date_from_datetime_parsing": ("Ngày không hợp lệ.", "Not a valid date."),
    "date_parsing": ("Ngày không hợp lệ.", "Not a valid date."),
    "bulk_too_large": ("Tệp quá lớn (tối đa 5 MB).", "The file is too large (5 MB at most)."),
    "not_xlsx": ("Tệp không phải bảng tính Excel .xlsx hợp lệ.", "Not a valid .xlsx workbook."),
    "not_utf8": ("Tệp CSV không ở bảng mã UTF-8.", "The CSV file is not UTF-8."),
    "file_too_large": ("Tệp quá lớn để tải lên ở đây (tối đa 16 MB): hãy dùng API nhập đơn vị.",
                       "The file is too large to upload here (16 MB at most): use the import "
                       "API."),
    "bad_header": ("Dòng tiêu đề của tệp không đúng mẫu.", "The file's header row is wrong."),
    "empty_file": ("Tệp trống.", "The file is empty."),
    "datetime_from_date_parsing": ("Ngày không hợp lệ.", "Not a valid date."),
    "unit_unknown": ("Không có đơn vị mang mã này.", "No unit has this code."),
    "received_in_future": ("Thời điểm nhận chưa tới.", "That moment is still to come."),
    "received_before_period": ("Thời điểm nhận trước ngày bắt đầu kỳ báo cáo.",
                               "That moment is before the period began."),
    "as_of_in_future": ("Thời điểm này chưa tới: chỉ tổng hợp được số liệu đến một thời "
                        "điểm đã qua.", "That time is still to come: a report can only stand "
                        "at a time that has passed."),
    "outside_campaign": ("Khoảng ngày nằm ngoài thời gian của đợt tuyên truyền.",
                         "Those days are outside the campaign."),
    "to_before_from": ("Ngày kết thúc trước ngày bắt đầu.", "The last day is before the first."),
    "datetime_parsing": ("Thời điểm không hợp lệ.", "Not a valid time."),
    "received_before_latest": ("Đơn vị đã có báo cáo kỳ này nhận sau thời điểm này: bản nhận "
                               "trước không thay được bản nhận sau.",
                               "The unit has a report for this period received after that "
                               "moment: an earlier report cannot replace a later one."),
}
UNKNOWN_RULE = ("Giá trị không hợp lệ ({rule}).", "Not a valid value ({rule}).")


def text(key: str, lang: str, **values: Any) -> str:
    vi, en = TEXTS[key]
    return (en if lang == "en" else vi).format(**values)


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def rule_message(rule: str, lang: str, field: str = "") -> str:
    """What a person reads for a rule an API named (on this input, where it says more)."""
    found = RULES.get(f"{rule}.{field}") or RULES.get(rule, UNKNOWN_RULE)
    return pick(found, lang).format(rule=rule)
