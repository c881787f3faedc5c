"""Aggregator settings, read from AGGREGATOR_* variables."""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.config import ServiceSettings


class AggregatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore", frozen=True)

    port: int = Field(8003, ge=1, le=65535)
    database_url: str = "sqlite:///data/aggregator.db"
    kafka_session_timeout_ms: int = Field(10_000, ge=1000, description="Consumer group "
                                          "session timeout.")
    breach_check_seconds: float = Field(60, gt=0, description="How often to look for "
                                        "missed deadlines and loudspeaker targets.")
    max_batch: int = Field(20_000, ge=1, le=100_000, description="Most report messages "
                           "folded in one transaction.")
    gauge_refresh_seconds: float = Field(5, gt=0, description="How often the campaign "
                                         "gauges are recomputed after reports arrive.")
    report_template: Path | None = Field(None, description="The Word template of the "
                                         "compiled report, if not the one shipped "
                                         "(services/aggregator/templates).")

    @field_validator("report_template")
    @classmethod
    def _template_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path
