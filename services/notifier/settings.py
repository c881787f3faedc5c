"""Notifier settings, read from NOTIFIER_* variables."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services import webhooks
from services.config import ServiceSettings


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", frozen=True)

    port: int = Field(8004, ge=1, le=65535)
    database_url: str = "sqlite:///data/notifier.db"
    admin_token: SecretStr = Field(description="Bearer token of the registry's administrator "
                                   "(re-sending a parked notification needs it).")
    kafka_session_timeout_ms: int = Field(10_000, ge=1000, description="Consumer group "
                                          "session timeout.")
    smtp_host: str = Field("127.0.0.1", description="SMTP relay host.")
    smtp_port: int = Field(1025, ge=1, le=65535, description="SMTP relay port.")
    smtp_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login, when the relay wants one.")
    smtp_password: SecretStr | None = None
    mail_from: str = Field("Sở VHTTDL Hải Phòng <thong-bao@localhost>",
                           description="The From of every email.")
    mail_domain: str = Field("notifier.localhost", description="Right-hand side of each "
                             "Message-ID.")
    webhook_signing_key: webhooks.SigningKey | None = Field(
        None, description="At least 32 characters: units' webhook secrets derive from it; "
        "no webhooks without it.")
    department_emails: list[str] = Field(default_factory=list, description="The Department's "
                                         "addresses (the digest, copies of late reminders) "
                                         "for a campaign that names none of its own.")
    portal_url: str = Field("http://localhost:8005/", description="Where units report and "
                            "leadership reads, named in the texts.")
    email_per_second: float = Field(20, ge=0, description="Rate limit of the SMTP relay "
                                    "(0: none).")
    webhook_per_second: float = Field(0, ge=0, description="Rate limit of webhooks (0: none).")
    max_attempts: int = Field(8, ge=1, le=50, description="Attempts before a message is parked.")
    first_retry_seconds: float = Field(30, gt=0, description="Wait after a first failure; "
                                       "doubled after each, with jitter.")
    retry_cap_seconds: float = Field(3600, gt=0)
    lease_seconds: float = Field(120, gt=0, description="How long a dispatcher holds the "
                                 "notifications it took: one that dies with some in flight "
                                 "leaves them to another process after this long.")
    schedule_seconds: float = Field(15, gt=0, description="How often due reminder waves and "
                                    "digests are looked for.")

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """An empty login (`NOTIFIER_SMTP_USERNAME=`, as docker-compose.yml passes an unset
        one) means none: the relay is not asked to authenticate."""
        return None if value == "" else value
