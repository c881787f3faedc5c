"""Response shapes shared by every service's API, and the checks of what comes in that
more than one service makes."""

import re
from datetime import UTC, datetime, time
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from services import periods
from services.events import PROVINCES

T = TypeVar("T")
MAX_OFFSET = 1_000_000  # far past any list; a larger integer overflows SQLite's
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the number of items in the whole list."""

    items: list[T]
    total: int = Field(description="Items in the whole list, not only this page.")


class CursorPage(Page[T], Generic[T]):
    """One page of a list read in order; the next page is asked for with `next_cursor`."""

    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on "
                                    "the last page.")


CursorQuery = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the "
                                           "page before; none for the first page.")]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="Items on a page.")]


def _without_offset(at: time) -> time:
    """Refuse a time of day with an offset (or a `Z`): it is read in a zone given beside
    it, so the offset would be dropped without a word and the moment land hours off."""
    if at.tzinfo is not None:
        raise PydanticCustomError("local_time", "a local time of day, without an offset or Z")
    return at


# A wall-clock time in a zone named elsewhere (a deadline's `timezone`), written HH:MM or
# HH:MM:SS. Not JSON Schema's `format: time`: that is RFC 3339's full-time, which always
# carries an offset, so every answer would break its own document.
LocalTime = Annotated[time, AfterValidator(_without_offset), WithJsonSchema({
    "type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "examples": ["17:00"]})]


def in_utc(moment: datetime) -> datetime:
    """A moment in UTC, as the services store it; one that UTC cannot hold (year 1 at
    +23:59, year 9999 at -23:59) is refused (`datetime_out_of_range`) rather than overflow
    into a 500."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_out_of_range", "the instant is out of range "
                                  "once in UTC") from None


Instant = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""An instant written with its offset (ISO 8601), held in UTC."""


def local_in_utc(moment: datetime) -> datetime:
    """A moment as a person in Hai Phong states it (without an offset: Hai Phong time), in
    UTC (in_utc)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=periods.LOCAL_ZONE)
    return in_utc(moment)


LocalInstant = Annotated[datetime, AfterValidator(local_in_utc)]
"""A moment with or without its offset (Hai Phong time then), held in UTC."""


# Control characters but tab and the line ends (a form's text area sends CR LF): a NUL
# cannot be stored in PostgreSQL's text, and the others show as nothing.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def without_controls(text: str) -> str:
    """Refuse free text holding a control character (CONTROL_CHARACTERS), naming it."""
    found = CONTROL_CHARACTERS.search(text)
    if found:
        raise PydanticCustomError("control_character", "văn bản chứa ký tự điều khiển "
                                  "U+{code} (không hiển thị được): hãy gõ lại / the text holds "
                                  "the control character U+{code}; type it again without it",
                                  {"code": f"{ord(found[0]):04X}"})
    return text


def _province(code: str) -> str:
    if code not in PROVINCES:
        raise PydanticCustomError("province_unknown", "not a province code of Decision "
                                  "19/2025/QĐ-TTg (two digits, e.g. 31 for Hải Phòng)")
    return code


Province = Annotated[str, AfterValidator(_province),
                     WithJsonSchema({"type": "string", "enum": sorted(PROVINCES),
                                     "description": "A province code of Decision "
                                     "19/2025/QĐ-TTg (services.events.PROVINCES)."})]
"""A unit's parent: one of the 34 province-level units."""
