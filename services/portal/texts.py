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
    "download_csv": ("Tải về (CSV, mở bằng Excel)", "Download (CSV for Excel)"),
    "missing_units": ("Đơn vị chưa nộp", "Units that have not reported"),
    "contacts": ("Liên hệ", "Contacts"),
    "all_missing_csv": ("Tải toàn bộ danh sách chưa nộp (CSV)",
                        "Download every missing unit (CSV)"),
    "open_period": ("Xem kỳ", "Open the period"),
    "none_missing": ("Tất cả đơn vị đã nộp.", "Every unit has reported."),
    "more": ("Trang sau", "Next page"),
    "details": ("Hình thức, đường dẫn minh chứng", "Form, evidence links"),
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
}
UNKNOWN_RULE = ("Giá trị không hợp lệ ({rule}).", "Not a valid value ({rule}).")


def text(key: str, lang: str, **values: Any) -> str:
    vi, en = TEXTS[key]
    return (en if lang == "en" else vi).format(**values)


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def rule_message(rule: str, lang: str) -> str:
    """What a person reads for a rule an API named."""
    return pick(RULES.get(rule, UNKNOWN_RULE), lang).format(rule=rule)
