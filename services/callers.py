"""Who is calling, as the rules see it: a credential's holder and its scope. Pure: the HTTP
edge (services.web.auth) makes one from a bearer token, the registry read model
(services.bus.directory) from a credential it follows."""

from dataclasses import dataclass
from typing import Literal

Scope = Literal["admin", "leadership", "unit"]


@dataclass(frozen=True)
class Caller:
    """The holder of a valid credential."""

    scope: Scope
    unit_code: str | None = None
    credential_id: str | None = None
