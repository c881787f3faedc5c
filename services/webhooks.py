"""Webhooks signed as the Standard Webhooks 1.0 specification says, with one secret per unit.

A unit's secret is never stored nor published: it is derived from the deployment's signing
key, the unit's code and the secret's generation (`HMAC-SHA256(key, "webhook:<unit>:<n>")`),
so the registry can show it to the unit's administrator and the notifier can sign with it,
while neither a topic nor a table holds it. Rotating a unit's secret moves its generation
on; the old one stops verifying at once.

Each delivery carries `webhook-id` (the notification's key: the same on every retry, so a
receiver drops repeats), `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,` then the base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes).
"""

import base64
import hashlib
import hmac
from typing import Annotated

from pydantic import AfterValidator, SecretStr

PREFIX = "whsec_"


MIN_KEY_BYTES = 32


def _long_enough(key: SecretStr) -> SecretStr:
    if len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
        raise ValueError(f"must be at least {MIN_KEY_BYTES} characters of random text")
    return key


# A deployment's signing key as a setting (the registry's and the notifier's, one value),
# refused when too short to keep the units' secrets apart.
SigningKey = Annotated[SecretStr, AfterValidator(_long_enough)]


def unit_secret(signing_key: bytes, unit_code: str, generation: int = 1) -> str:
    """The unit's current secret, as `whsec_<base64 of 32 bytes>`."""
    if len(signing_key) < MIN_KEY_BYTES:
        raise ValueError(f"the webhook signing key must hold at least {MIN_KEY_BYTES} bytes")
    raw = hmac.new(signing_key, f"webhook:{unit_code}:{generation}".encode(),
                   hashlib.sha256).digest()
    return PREFIX + base64.b64encode(raw).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value for one delivery."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a signed delivery."""
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body)}
