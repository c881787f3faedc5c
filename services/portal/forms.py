"""The report form: its inputs, the report body they make, the inputs a refusal points at.

Every input has a stable name (`mxh-zalo-so`: Zalo posts, count); the body lists one
activity per filled line, and remembers which line each activity came from, so that a
refusal naming `activities.3.evidence_urls.0` is shown beside that line's links.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.events import ActivityKind
from services.portal.texts import (
    CHANNELS,
    FOREIGN_FORMATS,
    LANGUAGE_NAMES,
    OTHER_KINDS,
    PLATFORMS,
    SOCIAL_FORMATS,
)

# an activity's field -> the suffix of its line's input
SUFFIX = {"count": "so", "evidence_urls": "minh-chung", "format": "hinh-thuc",
          "people_mobilised": "nguoi", "shares": "luot", "channel": "kenh"}
MAX_COUNT = 1_000_000


@dataclass
class Filled:
    """What a form posted, made into a report body; or the inputs it got wrong."""

    body: dict[str, Any]
    origin: list[str]  # per activity, the prefix of the line it came from
    errors: dict[str, str] = field(default_factory=dict)  # input name -> rule


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def read(form: Mapping[str, str], campaign: str, period: str, start: date, end: date
         ) -> Filled:
    """The report body of a posted form (only the lines filled in)."""
    filled = Filled(body={"campaign": campaign, "period": period, "activities": []},
                    origin=[])
    counts: dict[str, int] = {}
    for day in days_of(start, end):
        name = f"loa-{day.isoformat()}"
        if (value := _number(form, name, filled, limit=100)) is not None:
            counts[day.isoformat()] = value
    if counts:
        _add(filled, "loa", {"kind": "loudspeaker_broadcast", "daily_counts": counts})
    for platform in PLATFORMS:
        _line(form, filled, f"mxh-{platform}", {"kind": "social_post", "platform": platform,
              "format": _choice(form, f"mxh-{platform}-hinh-thuc", SOCIAL_FORMATS)})
    for language in LANGUAGE_NAMES:
        _line(form, filled, f"nn-{language}", {"kind": "foreign_language_item",
              "language": language,
              "format": _choice(form, f"nn-{language}-hinh-thuc", FOREIGN_FORMATS)})
    for kind in OTHER_KINDS:
        extra = {"channel": _choice(form, f"{kind}-kenh", CHANNELS)} if kind == "article" \
            else {}
        _line(form, filled, kind, {"kind": kind, **extra})
    people = _number(form, "vd-nguoi", filled, limit=10_000_000)
    shares = _number(form, "vd-luot", filled, limit=100_000_000)
    if people is not None or shares is not None:
        _add(filled, "vd", {"kind": "mobilisation", "count": 1,
                            "people_mobilised": people or 0, "shares": shares or 0})
    note = (form.get("ghi-chu") or "").strip()
    if note:
        filled.body["note"] = note
    return filled


def _line(form: Mapping[str, str], filled: Filled, prefix: str, activity: dict[str, Any]
          ) -> None:
    count = _number(form, f"{prefix}-so", filled, limit=MAX_COUNT)
    links = [line.strip() for line in (form.get(f"{prefix}-minh-chung") or "").splitlines()
             if line.strip()]
    if count or links:
        _add(filled, prefix, activity | {"count": count or 0, "evidence_urls": links})


def _add(filled: Filled, prefix: str, activity: dict[str, Any]) -> None:
    filled.body["activities"].append(activity)
    filled.origin.append(prefix)


def _number(form: Mapping[str, str], name: str, filled: Filled, *, limit: int) -> int | None:
    """A whole number typed into `name`; None when left empty (an error noted if it is not
    a whole number from 0 to `limit`)."""
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        filled.errors[name] = "greater_than_equal" if raw.startswith("-") and \
            raw[1:].isdigit() else "int_parsing"
        return None
    if int(raw) > limit:
        filled.errors[name] = "less_than_equal"
        return None
    return int(raw)


def _choice(form: Mapping[str, str], name: str, choices: Mapping[str, Any]) -> str:
    value = form.get(name) or ""
    return value if value in choices else next(iter(choices))


def input_of(field_path: str, origin: list[str]) -> str | None:
    """The input a refusal's field points at (`activities.2.social_post.evidence_urls.0`,
    `body.activities.0.daily_counts.2026-01-19`), if the form has one."""
    parts = field_path.split(".")
    if parts and parts[0] == "body":
        parts = parts[1:]
    if parts[:1] == ["note"]:
        return "ghi-chu"
    if len(parts) < 2 or parts[0] != "activities" or not parts[1].isdigit():
        return None
    index = int(parts[1])
    if index >= len(origin):
        return None
    prefix, rest = origin[index], [p for p in parts[2:] if p not in _KIND_TAGS]
    if prefix == "loa":
        day = next((p for p in rest[1:] if _is_day(p)), None) if rest[:1] == [
            "daily_counts"] else None
        return f"loa-{day}" if day else "loa"
    return f"{prefix}-{SUFFIX[rest[0]]}" if rest and rest[0] in SUFFIX else prefix


_KIND_TAGS = frozenset(ActivityKind)  # a refusal's path names the activity's kind


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def values_of(report: Mapping[str, Any]) -> tuple[dict[str, str], int]:
    """The form's inputs filled from a stored report (to start a revision from it), and how
    many of its activities the form has no line for (sent through the API or a file: posts
    on another platform, two lines of one platform, a mobilisation counted otherwise)."""
    values: dict[str, str] = {}
    lines = {"loa", "vd", *(f"mxh-{p}" for p in PLATFORMS),
             *(f"nn-{lang}" for lang in LANGUAGE_NAMES), *OTHER_KINDS}
    taken: set[str] = set()
    dropped = 0
    for activity in report.get("activities", []):
        kind = activity.get("kind")
        links = "\n".join(activity.get("evidence_urls") or [])
        prefix = {"social_post": f"mxh-{activity.get('platform')}",
                  "foreign_language_item": f"nn-{activity.get('language')}",
                  "loudspeaker_broadcast": "loa", "mobilisation": "vd"}.get(kind, kind)
        if prefix not in lines or prefix in taken or (
                kind == "mobilisation" and activity.get("count") != 1):
            dropped += 1
            continue
        taken.add(prefix)
        if kind == "loudspeaker_broadcast":
            values |= {f"loa-{d}": str(n) for d, n in activity["daily_counts"].items()}
            continue
        if kind == "mobilisation":
            values |= {"vd-nguoi": str(activity["people_mobilised"]),
                       "vd-luot": str(activity["shares"])}
            continue
        values[f"{prefix}-so"] = str(activity.get("count", 0))
        values[f"{prefix}-minh-chung"] = links
        for key in ("format", "channel"):
            if key in activity:
                values[f"{prefix}-{SUFFIX[key]}"] = activity[key]
    if report.get("note"):
        values["ghi-chu"] = report["note"]
    return values, dropped
