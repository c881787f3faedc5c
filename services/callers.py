"""Who is calling, as the rules see it: a credential's holder and its scope. Pure: the HTTP
edge (services.web.auth) makes one from a bearer token, the registry read model
(services.bus.directory) from a credential it follows."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Scope = Literal["admin", "department", "leadership", "unit"]
# A credential's scope (services.events.CredentialScope) as a caller's: the admin is no
# credential, but the registry's own setting.
OF_CREDENTIAL: dict[str, Scope] = {"unit": "unit", "leadership": "leadership",
                                   "department": "department"}


@dataclass(frozen=True)
class Caller:
    """The holder of a valid credential."""

    scope: Scope
    unit_code: str | None = None
    credential_id: str | None = None


# A token names the second it was issued after its random part (`hpk_<random>.<hex>`, a dot
# being outside the random part's alphabet). Not a secret, and not trusted: it only tells a
# service that an unknown token may be one issued moments ago that the registry's topics
# have not brought yet, worth waiting for (services.bus.directory) rather than refusing.
TOKEN_PREFIX = "hpk_"


def new_token(now: datetime) -> str:
    """A new bearer token: 256 random bits, then the second it was issued."""
    return f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}.{int(now.timestamp()):x}"


def issued_at(token: str) -> datetime | None:
    """The moment a token says it was issued, if it says one (older tokens do not)."""
    random, dot, stamp = token.rpartition(".")
    if not (dot and random.startswith(TOKEN_PREFIX) and 0 < len(stamp) <= 12
            and stamp.strip(_HEX) == ""):
        return None
    try:
        return datetime.fromtimestamp(int(stamp, 16), UTC)
    except (ValueError, OverflowError, OSError):  # beyond the years a datetime holds
        return None


_HEX = "0123456789abcdef"
