"""The campaign's vocabulary (unit and activity kinds) as enumerations every event shares."""

from enum import StrEnum


class UnitKind(StrEnum):
    """Kinds of reporting unit (đơn vị)."""

    department = "department"  # Sở, ban, ngành
    ward = "ward"  # phường
    commune = "commune"  # xã
    special_zone = "special_zone"  # đặc khu
    press = "press"  # cơ quan báo chí
    portal = "portal"  # Cổng TTĐT
    social_page = "social_page"  # trang mạng xã hội


COMMUNE_LEVEL = frozenset({UnitKind.ward, UnitKind.commune, UnitKind.special_zone})
"""Wards, communes and special zones carry the loudspeaker duty."""


class ActivityKind(StrEnum):
    """What a report counts."""

    banner = "banner"
    portal_column = "portal_column"
    document_publication = "document_publication"
    article = "article"
    social_post = "social_post"
    foreign_language_item = "foreign_language_item"
    multimedia_product = "multimedia_product"
    loudspeaker_broadcast = "loudspeaker_broadcast"
    mobilisation = "mobilisation"


class Platform(StrEnum):
    """Social networks named by the dispatch, plus `other`."""

    facebook = "facebook"
    zalo = "zalo"
    youtube = "youtube"
    tiktok = "tiktok"
    other = "other"


class Language(StrEnum):
    """The four foreign languages of the dispatch."""

    en = "en"
    zh = "zh"
    ja = "ja"
    ko = "ko"


class ReportingPeriod(StrEnum):
    """How a campaign cuts time into reporting periods."""

    iso_week = "iso_week"
    month = "month"


class CredentialScope(StrEnum):
    """What a credential may do."""

    unit = "unit"  # submit and read its own unit's reports
    leadership = "leadership"  # read every feed, never write
    # the Department's staff: read every feed, and enter a unit's report received on
    # paper or by email on its behalf
    department = "department"


PROVINCES: dict[str, str] = {
    "01": "Thành phố Hà Nội", "04": "Tỉnh Cao Bằng", "08": "Tỉnh Tuyên Quang",
    "11": "Tỉnh Điện Biên", "12": "Tỉnh Lai Châu", "14": "Tỉnh Sơn La", "15": "Tỉnh Lào Cai",
    "19": "Tỉnh Thái Nguyên", "20": "Tỉnh Lạng Sơn", "22": "Tỉnh Quảng Ninh",
    "24": "Tỉnh Bắc Ninh", "25": "Tỉnh Phú Thọ", "31": "Thành phố Hải Phòng",
    "33": "Tỉnh Hưng Yên", "37": "Tỉnh Ninh Bình", "38": "Tỉnh Thanh Hóa", "40": "Tỉnh Nghệ An",
    "42": "Tỉnh Hà Tĩnh", "44": "Tỉnh Quảng Trị", "46": "Thành phố Huế",
    "48": "Thành phố Đà Nẵng", "51": "Tỉnh Quảng Ngãi", "52": "Tỉnh Gia Lai",
    "56": "Tỉnh Khánh Hòa", "66": "Tỉnh Đắk Lắk", "68": "Tỉnh Lâm Đồng", "75": "Tỉnh Đồng Nai",
    "79": "Thành phố Hồ Chí Minh", "80": "Tỉnh Tây Ninh", "82": "Tỉnh Đồng Tháp",
    "86": "Tỉnh Vĩnh Long", "91": "Tỉnh An Giang", "92": "Thành phố Cần Thơ",
    "96": "Tỉnh Cà Mau",
}
"""The 34 province-level units by their codes in Decision 19/2025/QĐ-TTg (the list of
administrative units after the 2025 reorganisation): what a unit's `parent` names."""
