"""Reporting settings, read from REPORTING_* variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.config import ServiceSettings


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore", frozen=True)

    port: int = Field(8002, ge=1, le=65535)
    database_url: str = "sqlite:///data/reporting.db"
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="Largest request body.")
    max_bulk_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest CSV upload.")
    max_batch: int = Field(256, ge=1, le=10_000, description="Reports per group commit.")
