"""Request bodies refuse what an administrator could get wrong, naming the field."""

import pytest
from pydantic import ValidationError

from services.registry.schemas import CampaignCreate, CredentialCreate, UnitCreate

CAMPAIGN = {"code": "dai-hoi-xiv", "name": "Đại hội XIV", "starts_on": "2026-01-13",
            "ends_on": "2026-02-28", "targets": {"commune": {"loudspeaker_per_week": 3}}}


def fields(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


def test_peak_window_outside_the_campaign_is_refused() -> None:
    with pytest.raises(ValidationError, match="inside the campaign"):
        CampaignCreate.model_validate(
            CAMPAIGN | {"peak_windows": [{"starts_on": "2026-03-01", "ends_on": "2026-03-02"}]})


def test_unknown_time_zone_and_unit_kind_are_named() -> None:
    with pytest.raises(ValidationError) as error:
        CampaignCreate.model_validate(CAMPAIGN | {
            "deadline": {"timezone": "Asia/Hai_Phong"}, "targets": {"village": {}}})
    assert fields(error.value) == {"deadline.timezone", "targets.village.[key]"}


def test_unit_fields_are_checked() -> None:
    with pytest.raises(ValidationError) as error:
        UnitCreate.model_validate({"code": "Bad Code", "name": " ", "kind": "ward",
                                   "contacts": {"email": "nope", "phone": "call me"},
                                   "active_from": "2026-02-01", "active_until": "2026-01-01"})
    assert {"code", "name", "contacts.email", "contacts.phone"} <= fields(error.value)


def test_unit_credential_needs_a_unit_and_leadership_none() -> None:
    with pytest.raises(ValidationError):
        CredentialCreate(scope="unit", label="x")
    with pytest.raises(ValidationError):
        CredentialCreate(scope="leadership", unit_code="a", label="x")
