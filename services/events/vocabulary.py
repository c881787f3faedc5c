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
