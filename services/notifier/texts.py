"""The texts people receive, from the Jinja2 templates in `templates/` (files the Department
can edit without touching code): Vietnamese first, the English text below it.

A template's first line is the subject; the rest is the body. Dates read dd/mm/yyyy and
moments HH:MM dd/mm/yyyy, in Hai Phong's time. A variable a template names and the caller
did not give is an error, not a blank in a message sent to a thousand units.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.events import ReportSubmitted
from services.periods import written_day, written_moment

TEMPLATES = Path(__file__).parent / "templates"
Kind = Literal["receipt", "reminder", "breach", "digest"]
Language = Literal["vi", "en"]

ACTIVITY_LABELS: dict[str, tuple[str, str]] = {  # kind -> (Vietnamese, English)
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
UNIT_KIND_LABELS: dict[str, tuple[str, str]] = {
    "department": ("Sở, ban, ngành", "Departments"), "ward": ("Phường", "Wards"),
    "commune": ("Xã", "Communes"), "special_zone": ("Đặc khu", "Special zones"),
    "press": ("Cơ quan báo chí", "Press agencies"), "portal": ("Cổng thông tin", "Portals"),
    "social_page": ("Trang mạng xã hội", "Social media pages"),
}


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


def render(kind: Kind, language: Language, context: Mapping[str, Any]) -> Text:
    """The subject and body of one message in one language."""
    template = _environment().get_template(f"{kind}.{language}.txt.j2")
    subject, _, body = template.render(**context).lstrip("\n").partition("\n")
    return Text(subject.strip(), body.strip("\n") + "\n")


ENGLISH_BELOW = "English below"


def message(kind: Kind, context: Mapping[str, Any]) -> Text:
    """What is sent: the Vietnamese subject, and a body in Vietnamese first with the English
    text below it (its own subject as its first line), so that every recipient can read it."""
    vi, en = render(kind, "vi", context), render(kind, "en", context)
    return Text(vi.subject, f"{vi.body}\n{'-' * 24} {ENGLISH_BELOW} {'-' * 24}\n\n"
                            f"{en.subject}\n\n{en.body}")


@dataclass(frozen=True)
class Line:
    label_vi: str
    label_en: str
    count: int


def counted(report: ReportSubmitted) -> list[Line]:
    """What a receipt says was counted: each activity kind's total, in the dispatch's order."""
    totals: Counter[str] = Counter()
    for activity in report.activities:
        totals[activity.kind] += activity.count
    return [Line(*ACTIVITY_LABELS[kind], totals[kind]) for kind in ACTIVITY_LABELS
            if kind in totals]


@dataclass(frozen=True)
class KindRow:
    label_vi: str
    label_en: str
    expected: int
    reported: int
    on_time: int


def completeness(rows: Iterable[tuple[str, int, int, int]]) -> list[KindRow]:
    """The digest's table: (unit kind, expected, reported, on time), labelled."""
    return [KindRow(*UNIT_KIND_LABELS.get(kind, (kind, kind)), expected, reported, on_time)
            for kind, expected, reported, on_time in rows]


@cache
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                              autoescape=False, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)
    environment.filters["day"] = written_day
    environment.filters["moment"] = written_moment
    return environment
