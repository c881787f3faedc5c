"""Notifier settings, read from NOTIFIER_* variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.config import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    port: int = Field(8004, ge=1, le=65535)
    database_url: str = "sqlite:///data/notifier.db"
