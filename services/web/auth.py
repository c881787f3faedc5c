"""Who is calling: the one bearer-token check of every service.

Each service says how a token becomes a caller (`app.state.identify`: the registry looks in
its database, the others in their registry read model); everything else is shared: reading
the header, the security scheme in the OpenAPI document, the 401 and 403 refusals.

The checks are coroutines: a look-up in memory is done on the event loop, which costs less
than the trip to the thread pool a sync dependency makes on every request (two of them,
for the caller and its scope); a look-up that does I/O says so (`Blocking`) and is made in
the thread pool.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from services.callers import Caller, Scope
from services.refusals import Forbidden, Unauthenticated

__all__ = ["Blocking", "Caller", "Scope", "Identify", "Settling", "caller_of", "identify",
           "token_of"]
Identify = Callable[[str], Caller | None]


class Blocking:
    """An `Identify` that does I/O (a database look-up): made in the thread pool, off the
    event loop."""

    def __init__(self, identify: Identify) -> None:
        self._identify = identify

    def __call__(self, token: str) -> Caller | None:
        return self._identify(token)


class Settling:
    """An `Identify` from a read model that may not have a token issued moments ago yet:
    `settle` waits for such a token (services.bus.directory) before it is refused."""

    def __init__(self, identify: Identify,
                 settle: Callable[[str], Awaitable[Caller | None]]) -> None:
        self._identify, self.settle = identify, settle

    def __call__(self, token: str) -> Caller | None:
        return self._identify(token)


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


async def caller_of(lookup: Identify, token: str | None) -> Caller:
    """The caller a token belongs to, by a service's `identify` (in the thread pool if it
    blocks, waited for if it may come late); Unauthenticated if there is none."""
    if isinstance(lookup, Blocking):
        return await run_in_threadpool(identify, lookup, token)
    try:
        return identify(lookup, token)
    except Unauthenticated:
        if token and isinstance(lookup, Settling) and (found := await lookup.settle(token)):
            return found
        raise


async def current_caller(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> Caller:
    """FastAPI dependency: the request's caller, by the service's own `identify`."""
    token = credentials.credentials if credentials is not None else None
    return await caller_of(request.app.state.identify, token)


def requiring(*scopes: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets only callers of these scopes through (403 for the rest)."""
    async def check(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        if caller.scope not in scopes:
            raise Forbidden("forbidden", f"this needs a credential of scope {' or '.join(scopes)}")
        return caller

    return check


CallerDep = Annotated[Caller, Depends(current_caller)]
AdminDep = Annotated[Caller, Depends(requiring("admin"))]
ReaderDep = Annotated[Caller, Depends(requiring("admin", "department", "leadership"))]
DepartmentDep = Annotated[Caller, Depends(requiring("department"))]
