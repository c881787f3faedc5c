"""Settings every service shares; each service subclasses with its own env prefix."""

from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    """HTTP and logging settings of every service process."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(ge=1, le=65535, description="HTTP port.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool | None = Field(None, description="JSON logs; default: when not on a TTY.")


class ServiceSettings(HttpSettings):
    """Database and broker settings common to the four services that keep data."""

    database_url: str = Field(description="SQLAlchemy URL: sqlite:///path or postgresql://...")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    kafka_idempotence: bool = Field(
        True, description="Idempotent producer; turn off for brokers without it (Tansu).")
    kafka_replication: int = Field(1, ge=1, description="Replication factor of created topics.")


S = TypeVar("S", bound=BaseSettings)


class SettingsError(SystemExit):
    """Stops start-up with one line per bad environment variable."""


def load_settings(cls: type[S]) -> S:
    """Read settings from the environment, or stop naming each bad variable."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines = [
            f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
