"""Who is calling: the admin token from settings, or an issued credential."""

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from services.http import ApiError
from services.registry import service

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Caller:
    scope: str  # "admin", "leadership" or "unit"
    unit_code: str | None = None
    credential_id: str | None = None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message)


def identify(request: Request,
             credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
             ) -> Caller:
    """Resolve the bearer token to a caller, or refuse with 401."""
    if credentials is None:
        raise _unauthorized("an Authorization: Bearer token is required")
    token = credentials.credentials
    admin = request.app.state.settings.admin_token.get_secret_value()
    if hmac.compare_digest(token.encode(), admin.encode()):
        return Caller(scope="admin")
    with Session(request.app.state.engine) as session:
        credential = service.authenticate(session, token)
    if credential is None:
        raise _unauthorized("the token is unknown or revoked")
    return Caller(scope=credential.scope, unit_code=credential.unit_code,
                  credential_id=credential.id)


def require_admin(caller: Annotated[Caller, Depends(identify)]) -> Caller:
    """Only the administrator writes."""
    if caller.scope != "admin":
        raise ApiError(403, "forbidden", "this action needs the admin credential")
    return caller


def require_reader(caller: Annotated[Caller, Depends(identify)]) -> Caller:
    """Admin and leadership read everything."""
    if caller.scope not in ("admin", "leadership"):
        raise ApiError(403, "forbidden", "this read needs a leadership or admin credential")
    return caller


CallerDep = Annotated[Caller, Depends(identify)]
AdminDep = Annotated[Caller, Depends(require_admin)]
ReaderDep = Annotated[Caller, Depends(require_reader)]
