"""Signed webhooks verify with the Standard Webhooks reference library and the unit's
secret; a tampered body, an old timestamp or another unit's secret do not."""

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.webhooks import headers, unit_secret

KEY = b"k" * 32


def signed(unit: str, body: bytes, at: int | None = None) -> dict[str, str]:
    return headers(unit_secret(KEY, unit), "receipt:dai-hoi-xiv:2026-W04:xa-a:v1",
                   at or int(time.time()), body)


BODY = json.dumps({"type": "report.receipt", "data": {"unit": "xa-a"}},
                  ensure_ascii=False).encode()


def test_a_delivery_verifies_with_the_reference_library() -> None:
    assert Webhook(unit_secret(KEY, "xa-a")).verify(BODY, signed("xa-a", BODY)) == json.loads(
        BODY)


@pytest.mark.parametrize("spoil", ["body", "timestamp", "secret", "generation"])
def test_a_tampered_delivery_does_not_verify(spoil: str) -> None:
    body, sent = BODY, signed("xa-a", BODY)
    secret = unit_secret(KEY, "xa-a")
    if spoil == "body":
        body = BODY.replace(b"xa-a", b"xa-b")
    elif spoil == "timestamp":
        sent = signed("xa-a", BODY, at=int(time.time()) - 600)  # older than five minutes
    elif spoil == "secret":
        secret = unit_secret(KEY, "xa-b")
    else:
        secret = unit_secret(KEY, "xa-a", generation=2)  # rotated: the old one is dead
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, sent)


def test_secrets_are_per_unit_and_need_a_real_key() -> None:
    assert unit_secret(KEY, "xa-a") != unit_secret(KEY, "xa-b")
    assert unit_secret(KEY, "xa-a").startswith("whsec_")
    with pytest.raises(ValueError, match="32 bytes"):
        unit_secret(b"short", "xa-a")
