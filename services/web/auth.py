"""Who is calling: the one bearer-token check of every service.

Each service says how a token becomes a caller (`app.state.identify`: the registry looks in
its database, the others in their registry read model); everything else is shared: reading
the header, the security scheme in the OpenAPI document, the 401 and 403 refusals.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.callers import Caller, Scope
from services.refusals import Forbidden, Unauthenticated

__all__ = ["Caller", "Scope", "Identify", "identify", "token_of"]
Identify = Callable[[str], Caller | None]


# Declares the scheme in every OpenAPI document, so Swagger's "Authorize" works.
bearer_scheme = HTTPBearer(auto_error=False, description="A token issued by the registry.")
# for routes documented by hand (openapi_extra)
SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]


def token_of(authorization: str) -> str | None:
    """The token of an Authorization header's value, if it is a bearer token."""
    return authorization[7:].strip() or None if authorization[:7].lower() == "bearer " else None


def identify(identify: Identify, token: str | None) -> Caller:
    """The caller a token belongs to; Unauthenticated when there is none or it is unknown."""
    if not token:
        raise Unauthenticated("unauthenticated", "an Authorization: Bearer token is required")
    caller = identify(token)
    if caller is None:
        raise Unauthenticated("unauthenticated", "the token is unknown or revoked")
    return caller


def current_caller(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> Caller:
    """FastAPI dependency: the request's caller, by the service's own `identify`."""
    return identify(request.app.state.identify,
                    credentials.credentials if credentials is not None else None)


def requiring(*scopes: Scope) -> Callable[..., Caller]:
    """A dependency that lets only callers of these scopes through (403 for the rest)."""
    def check(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        if caller.scope not in scopes:
            raise Forbidden("forbidden", f"this needs a credential of scope {' or '.join(scopes)}")
        return caller

    return check


CallerDep = Annotated[Caller, Depends(current_caller)]
AdminDep = Annotated[Caller, Depends(requiring("admin"))]
ReaderDep = Annotated[Caller, Depends(requiring("admin", "leadership"))]
