"""Settings stop start-up with the name of the bad variable."""

import pytest

from services.config import SettingsError, load_settings
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
