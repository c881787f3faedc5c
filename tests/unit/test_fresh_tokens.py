"""A token issued moments ago works at once: a service whose registry read model has not
brought it yet waits for it instead of refusing it; any other unknown token is refused at
once."""

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.bus import directory as directory_module
from services.bus.directory import Directory
from services.callers import Caller, issued_at, new_token
from services.events import CREDENTIALS, UNITS, CredentialScope, CredentialSnapshot
from services.refusals import Unauthenticated
from services.web.auth import Settling, caller_of
from tests.unit.test_aggregator_rules import unit


def record(token: str, unit: str = "xa-a") -> bytes:
    return CredentialSnapshot(
        id=f"cred_{unit}", scope=CredentialScope.unit, unit_code=unit,
        token_sha256=hashlib.sha256(token.encode()).hexdigest(), label="test",
        issued_at=datetime.now(UTC)).model_dump_json().encode()


def test_a_new_token_says_when_it_was_issued_and_an_old_or_odd_one_says_nothing() -> None:
    now = datetime(2026, 12, 4, 8, 30, 15, tzinfo=UTC)
    token = new_token(now)
    assert token.startswith("hpk_") and issued_at(token) == now
    assert len(token) > 4 + 43  # the 256 random bits are all there
    for odd in ("hpk_" + "A" * 43, "hpk_abc.+1f", "hpk_abc. 1f", "hpk_abc.1_f",
                "xyz_abc.65f1", "hpk_abc.fffffffffffff", "hpk_abc.ffffffffffff", ""):
        assert issued_at(odd) is None, odd


async def test_a_fresh_token_that_arrives_while_its_request_waits_is_let_in() -> None:
    directory = Directory(units={"xa-a": unit("xa-a")})
    token = new_token(datetime.now(UTC))
    assert directory.caller(token) is None
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, directory.apply, CREDENTIALS.name, "cred_xa-a", record(token))
    started = time.monotonic()
    caller = await caller_of(Settling(directory.caller, directory.settle), token)
    assert caller == Caller(scope="unit", unit_code="xa-a", credential_id="cred_xa-a")
    assert 0.25 < time.monotonic() - started < 2


async def test_a_fresh_unit_token_waits_for_its_unit_too() -> None:
    directory = Directory()
    token = new_token(datetime.now(UTC))
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, directory.apply, CREDENTIALS.name, "cred_xa-a", record(token))
    loop.call_later(0.3, directory.apply, UNITS.name, "xa-a",
                    unit("xa-a").model_dump_json().encode())
    started = time.monotonic()
    caller = await directory.settle(token)
    assert caller is not None and caller.unit_code == "xa-a" and "xa-a" in directory.units
    assert time.monotonic() - started > 0.25


async def test_a_fresh_token_that_never_comes_is_refused_after_the_wait(monkeypatch) -> None:
    monkeypatch.setattr(directory_module, "SETTLE_SECONDS", 0.3)
    directory = Directory()
    other = new_token(datetime.now(UTC))
    asyncio.get_running_loop().call_later(0.1, directory.apply, CREDENTIALS.name, "cred_b",
                                          record(other, "xa-b"))  # another token comes
    started = time.monotonic()
    with pytest.raises(Unauthenticated):
        await caller_of(Settling(directory.caller, directory.settle),
                        new_token(datetime.now(UTC)))
    assert 0.25 < time.monotonic() - started < 2


@pytest.mark.parametrize("issued", [None, -120, 120])  # None: before tokens said when
async def test_an_unknown_token_that_is_not_fresh_is_refused_at_once(issued: int | None
                                                                     ) -> None:
    directory = Directory()
    token = "hpk_" + "A" * 43 if issued is None else \
        new_token(datetime.now(UTC) + timedelta(seconds=issued))
    started = time.monotonic()
    with pytest.raises(Unauthenticated):
        await caller_of(Settling(directory.caller, directory.settle), token)
    assert time.monotonic() - started < 0.2


async def test_a_fresh_token_revoked_is_refused_at_once_not_waited_for() -> None:
    """Revocation must bite within a second: a token this service holds as revoked is not
    one still on its way."""
    token = new_token(datetime.now(UTC))
    directory = Directory(units={"xa-a": unit("xa-a")})
    directory.apply(CREDENTIALS.name, "cred_xa-a", record(token))
    revoked = CredentialSnapshot.model_validate_json(record(token)).model_copy(
        update={"revoked_at": datetime.now(UTC)})
    directory.apply(CREDENTIALS.name, "cred_xa-a", revoked.model_dump_json().encode())
    started = time.monotonic()
    with pytest.raises(Unauthenticated):
        await caller_of(Settling(directory.caller, directory.settle), token)
    assert time.monotonic() - started < 0.2
