"""Domain refusals: what a service decides it will not do, and why, with no transport in it.

Service code raises these; the HTTP edge (services.web.errors) maps each kind to its status
and the one error body, and a Kafka handler or a page can catch them just the same.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass(frozen=True)
class FieldProblem:
    """One field that broke one rule."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class Refusal(Exception):
    """A refusal the caller can act on: a stable code, a message and the offending fields."""

    def __init__(self, code: str, message: str,
                 fields: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or []

    @classmethod
    def on(cls, field: str, rule: str, message: str) -> "Refusal":
        """A refusal naming one field and the rule it broke (the rule is the code)."""
        return cls(rule, message, [FieldProblem(field, rule, message)])


class Malformed(Refusal):
    """The request cannot be read at all (not JSON, not UTF-8)."""


class Unauthenticated(Refusal):
    """No credential, or one that is unknown or revoked."""


class Forbidden(Refusal):
    """A known caller who may not do this."""


class NotFound(Refusal):
    """The thing asked for does not exist, or not for this caller."""


class Conflict(Refusal):
    """It clashes with what is already stored."""


class TooLarge(Refusal):
    """Over a size limit."""


class UnsupportedMediaType(Refusal):
    """The body is declared as a format the route does not take."""


class Invalid(Refusal):
    """It breaks a rule of the domain."""


class Unavailable(Refusal):
    """A dependency is down; trying again later may work."""


# Every list of problems sent back stops after MAX_LISTED: a two-megabyte header of a million
# bad columns must not answer with a million errors. The rest are counted in one last entry
# of the same shape (error bodies: field "", rule `more_problems`), so no client parses a new
# body; the status and the code are those of the whole list.
MAX_LISTED = 100
MORE_PROBLEMS = "more_problems"
P = TypeVar("P")


def capped(problems: Sequence[P], more: Callable[[Sequence[P]], P]) -> list[P]:
    """The first MAX_LISTED problems, then, if any were left off, `more` of those."""
    if len(problems) <= MAX_LISTED:
        return list(problems)
    return [*problems[:MAX_LISTED], more(problems[MAX_LISTED:])]


def left_off(rest: Sequence[object]) -> str:
    """What the last entry of a capped list says."""
    return f"{len(rest)} more problem{'s' if len(rest) > 1 else ''} not listed"


def field_errors(errors: Any) -> list[FieldProblem]:
    """Turn pydantic errors into field problems (`a.0.b`, the pydantic rule, its message)."""
    return [FieldProblem(".".join(str(p) for p in err["loc"]), err["type"], err["msg"])
            for err in errors]
