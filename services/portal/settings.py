"""The portal's settings (env prefix PORTAL_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.config import HttpSettings


class PortalSettings(HttpSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore", frozen=True)

    port: int = Field(8005, ge=1, le=65535, description="HTTP port.")
    registry_url: str = Field("http://127.0.0.1:8001", description="The registry's base URL.")
    reporting_url: str = Field("http://127.0.0.1:8002", description="Intake's base URL.")
    aggregator_url: str = Field("http://127.0.0.1:8003", description="The aggregator's base "
                                "URL.")
    campaign: str = Field("dai-hoi-xiv", description="The campaign the pages show.")
    secure_cookies: bool = Field(False, description="Mark cookies Secure: set it behind TLS.")
    session_minutes: int = Field(480, ge=5, le=24 * 60, description="A session ends after "
                                 "this long without a request.")
