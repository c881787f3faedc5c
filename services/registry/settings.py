"""Registry settings, read from REGISTRY_* variables."""

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services import webhooks
from services.config import ServiceSettings

SEED_FOLDER = Path(__file__).parent / "seed"


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", frozen=True)

    port: int = Field(8001, ge=1, le=65535)
    database_url: str = "sqlite:///data/registry.db"
    admin_token: SecretStr = Field(description="Bearer token that guards every write.")
    seed_folder: Path | None = Field(SEED_FOLDER, description="Campaigns created at start "
                                     "when missing; empty to seed nothing.")
    republish_on_start: bool = Field(True, description="Publish every snapshot at start.")
    kafka_session_timeout_ms: int = Field(10_000, ge=1000, description="Consumer group "
                                          "session timeout (the audit trail's reader of "
                                          "reports entered on a unit's behalf).")
    webhook_signing_key: webhooks.SigningKey | None = Field(
        None, description="The notifier's key (the same value): units' webhook secrets "
        "derive from it; none shown without it.")

    @field_validator("admin_token")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret) < 24 or secret.lower() in {"changeme", "admin", "password"}:
            raise ValueError("must be at least 24 characters of random text")
        return value
