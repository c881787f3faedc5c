"""What people read for the codes of the vocabulary (services.events.vocabulary), as
(Vietnamese, English): unit kinds, activity kinds and their details. The pages, messages,
documents and spreadsheets of every service name things by these."""

UNIT_KINDS: dict[str, tuple[str, str]] = {
    "department": ("Sở, ban, ngành", "Departments"), "ward": ("Phường", "Wards"),
    "commune": ("Xã", "Communes"), "special_zone": ("Đặc khu", "Special zones"),
    "press": ("Cơ quan báo chí", "Press agencies"), "portal": ("Cổng thông tin", "Portals"),
    "social_page": ("Trang mạng xã hội", "Social media pages"),
}
ACTIVITY_KINDS: dict[str, tuple[str, str]] = {
    "banner": ("Băng rôn, khẩu hiệu, pano, áp phích", "Banners, slogans and posters"),
    "portal_column": ("Chuyên trang, chuyên mục trên cổng thông tin", "Portal columns"),
    "document_publication": ("Văn bản, tài liệu tuyên truyền", "Documents published"),
    "multimedia_product": ("Sản phẩm đa phương tiện", "Multimedia products"),
    "article": ("Tin, bài", "News items and articles"),
    "social_post": ("Bài đăng mạng xã hội", "Social media posts"),
    "foreign_language_item": ("Tin, bài, chương trình tiếng nước ngoài",
                              "Foreign-language items"),
    "loudspeaker_broadcast": ("Buổi phát thanh trên loa truyền thanh cơ sở",
                              "Loudspeaker broadcasts"),
    "mobilisation": ("Lượt chia sẻ của cán bộ, đảng viên", "Shares by mobilised staff"),
}
PLATFORMS: dict[str, tuple[str, str]] = {
    "facebook": ("Facebook", "Facebook"), "zalo": ("Zalo", "Zalo"),
    "youtube": ("YouTube", "YouTube"), "tiktok": ("TikTok", "TikTok"),
    "other": ("Nền tảng khác", "Other platforms")}
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("Tiếng Anh", "English"), "zh": ("Tiếng Trung", "Chinese"),
    "ja": ("Tiếng Nhật", "Japanese"), "ko": ("Tiếng Hàn", "Korean")}
CHANNELS: dict[str, tuple[str, str]] = {
    "press": ("Báo in", "Press"), "portal": ("Cổng thông tin", "Portal"),
    "website": ("Trang thông tin", "Website"), "radio": ("Phát thanh", "Radio"),
    "tv": ("Truyền hình", "TV")}
FORMATS: dict[str, tuple[str, str]] = {
    "news": ("Tin", "News"), "article": ("Bài viết", "Article"),
    "infographic": ("Infographic", "Infographic"), "video": ("Video", "Video"),
    "bulletin": ("Bản tin", "Bulletin"), "programme": ("Chương trình", "Programme")}


def vietnamese(names: dict[str, tuple[str, str]], code: str) -> str:
    """The Vietnamese name of a code (the code itself when it has none)."""
    return names.get(code, (code, code))[0]
