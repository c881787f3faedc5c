"""Settings stop start-up with the name of the bad variable."""

import pytest

from services.config import SettingsError, load_settings
from services.notifier.settings import NotifierSettings
from services.registry.settings import RegistrySettings


def test_missing_admin_token_is_named(monkeypatch) -> None:
    monkeypatch.delenv("REGISTRY_ADMIN_TOKEN", raising=False)
    with pytest.raises(SettingsError, match="REGISTRY_ADMIN_TOKEN: Field required"):
        load_settings(RegistrySettings)


def test_weak_admin_token_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("REGISTRY_ADMIN_TOKEN", "changeme")
    with pytest.raises(SettingsError, match="REGISTRY_ADMIN_TOKEN: .*24 characters"):
        load_settings(RegistrySettings)


def test_every_bad_variable_is_listed(monkeypatch) -> None:
    monkeypatch.setenv("REGISTRY_ADMIN_TOKEN", "x" * 30)
    monkeypatch.setenv("REGISTRY_PORT", "0")
    monkeypatch.setenv("REGISTRY_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as error:
        load_settings(RegistrySettings)
    assert "REGISTRY_PORT" in str(error.value) and "REGISTRY_LOG_LEVEL" in str(error.value)


def test_an_empty_smtp_login_means_none(monkeypatch) -> None:
    """docker-compose.yml passes `NOTIFIER_SMTP_USERNAME=` when `.env` sets no login: the
    relay must then not be asked to authenticate with empty credentials."""
    monkeypatch.setenv("NOTIFIER_ADMIN_TOKEN", "x" * 30)
    monkeypatch.setenv("NOTIFIER_SMTP_USERNAME", "")
    monkeypatch.setenv("NOTIFIER_SMTP_PASSWORD", "")
    settings = load_settings(NotifierSettings)
    assert settings.smtp_username is None and settings.smtp_password is None
    monkeypatch.setenv("NOTIFIER_SMTP_USERNAME", "thong-bao")
    monkeypatch.setenv("NOTIFIER_SMTP_PASSWORD", "mat-khau")
    settings = load_settings(NotifierSettings)
    assert settings.smtp_username == "thong-bao"
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "mat-khau"
