"""Who calls the registry: the admin token of its settings, or a credential it issued.

The bearer-token check itself is the shared one (services.web.auth); this only says how a
token becomes a caller here, as `app.state.identify`.
"""

import hmac

from sqlalchemy import Engine
from sqlmodel import Session

from services.callers import OF_CREDENTIAL
from services.registry import service
from services.registry.settings import RegistrySettings
from services.web.auth import Blocking, Caller, Identify


def identifier(settings: RegistrySettings, engine: Engine) -> Identify:
    """The registry's token -> caller look-up: the admin token, else a valid credential (in
    the database: `Blocking`)."""
    admin = settings.admin_token.get_secret_value().encode()

    def identify(token: str) -> Caller | None:
        if hmac.compare_digest(token.encode(), admin):
            return Caller(scope="admin")
        with Session(engine) as session:
            credential = service.authenticate(session, token)
        if credential is None:
            return None
        return Caller(scope=OF_CREDENTIAL[credential.scope],
                      unit_code=credential.unit_code, credential_id=credential.id)

    return Blocking(identify)
