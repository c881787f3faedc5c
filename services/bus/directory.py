"""What a service knows of the registry: units, credentials and campaigns, in memory.

Rebuilt at every start by reading the registry's compacted topics from the beginning, then
kept current by following them, like a Kafka Streams global table. No service calls the
registry; a unit created, retired or a token revoked there shows here within moments.
Until the topics have been read to the end once, no token is judged: one read as valid may
be revoked further on, one not read yet is not unknown. A caller then hears 503, to try
again, never a 401 for a valid token. Likewise a token issued moments ago may not have come
yet: one that says it is that fresh is waited for (`settle`), so it works at every service
as soon as the registry has answered the call that issued it.
"""

import asyncio
import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel import Session

from services.bus.consumer import Batch, Consumer, KafkaSource, Source
from services.callers import OF_CREDENTIAL, Caller, issued_at
from services.config import ServiceSettings
from services.events import (
    CAMPAIGNS,
    CREDENTIALS,
    UNITS,
    CampaignSnapshot,
    CredentialSnapshot,
    UnitSnapshot,
)
from services.observability import ServiceMetrics
from services.refusals import Unavailable

FOLLOWED = (UNITS, CAMPAIGNS, CREDENTIALS)
T = TypeVar("T")
# An unknown token issued less than FRESH_SECONDS ago (by its own word; a clock up to
# SKEW_SECONDS ahead of ours allowed) is waited for, up to SETTLE_SECONDS: the registry's
# record of it takes well under a second to come while the broker is up. At most
# MAX_SETTLING requests wait at once; a stream of made-up fresh tokens costs their senders
# the wait and the service one sleeping coroutine each.
FRESH_SECONDS, SKEW_SECONDS, SETTLE_SECONDS, MAX_SETTLING = 60.0, 5.0, 5.0, 256


@dataclass
class Directory:
    """The latest snapshot of each unit, campaign and credential."""

    units: dict[str, UnitSnapshot] = field(default_factory=dict)
    campaigns: dict[str, CampaignSnapshot] = field(default_factory=dict)
    credentials: dict[str, CredentialSnapshot] = field(default_factory=dict)  # by token hash
    _hash_of: dict[str, str] = field(default_factory=dict)  # credential id -> token hash
    # whether the registry's topics were read to the end once (set by `follower`)
    read_to_end: Callable[[], bool] = field(default_factory=lambda: _always)
    # grows with every unit or campaign record applied: what is derived from them is current
    # while it stands (`derived`; the feeds' ETags)
    revision: int = 0
    _derived: dict[Hashable, Any] = field(default_factory=dict)
    _arrival: asyncio.Event | None = None  # set when a credential record comes
    _settling: int = 0

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """What `make` derives from the units and campaigns, made once per revision (the
        expected units of a period, say: a feed must not walk 5,000 units per request)."""
        revision = self.revision
        found = self._derived.get((revision, key), _MISSING)
        if found is _MISSING:
            found = make()
            if revision == self.revision:  # else it may be made of a half-applied change
                if len(self._derived) > 256:
                    self._derived = {}
                self._derived[revision, key] = found
        return found

    def credential(self, token: str | None) -> CredentialSnapshot | None:
        """The valid credential a bearer token belongs to, if any."""
        if not token:
            return None
        found = self.credentials.get(hashlib.sha256(token.encode()).hexdigest())
        return found if found is not None and found.revoked_at is None else None

    def caller(self, token: str) -> Caller | None:
        """The caller a bearer token names (for services.web.auth), if it is valid;
        Unavailable (503) until the registry's topics were read to the end once."""
        if not self.read_to_end():
            raise Unavailable("registry_loading", "the registry's credentials are still "
                              "being read: try again shortly")
        found = self.credential(token)
        if found is None:
            return None
        scope = OF_CREDENTIAL[found.scope]
        return Caller(scope=scope, unit_code=found.unit_code, credential_id=found.id)

    async def settle(self, token: str) -> Caller | None:
        """The caller of a token unknown here that says it was issued moments ago, once its
        record (and its unit's, for a unit token) has come; None if they do not within
        SETTLE_SECONDS, or the token is not fresh. On the event loop, where the follower
        applies records."""
        issued = issued_at(token)
        if issued is None or self._settling >= MAX_SETTLING:
            return None
        age = (datetime.now(UTC) - issued).total_seconds()
        if not -SKEW_SECONDS <= age <= FRESH_SECONDS:
            return None
        digest = hashlib.sha256(token.encode()).hexdigest()
        loop = asyncio.get_running_loop()
        until = loop.time() + SETTLE_SECONDS
        self._settling += 1
        try:
            while (found := self.caller(token)) is None or (
                    found.unit_code is not None and found.unit_code not in self.units):
                if found is None and digest in self.credentials:  # here, and revoked
                    return None
                if self._arrival is None:
                    self._arrival = asyncio.Event()
                try:
                    await asyncio.wait_for(self._arrival.wait(), until - loop.time())
                except TimeoutError:
                    return None
            return found
        finally:
            self._settling -= 1

    def apply(self, topic: str, key: str, value: bytes | None) -> None:
        """Fold one record in; older revisions never replace newer ones."""
        if topic == UNITS.name:
            _fold(self.units, key,
                  None if value is None else UnitSnapshot.model_validate_json(value))
        elif topic == CAMPAIGNS.name:
            _fold(self.campaigns, key,
                  None if value is None else CampaignSnapshot.model_validate_json(value))
        elif topic == CREDENTIALS.name:
            self._credential(key, value)
        if topic in (UNITS.name, CAMPAIGNS.name):
            self.revision += 1  # after the change: what was derived before it is dropped
            self._derived = {}
        if topic == UNITS.name:
            self._arrived()

    def _credential(self, key: str, value: bytes | None) -> None:
        old = self._hash_of.pop(key, None)
        if old is not None:
            self.credentials.pop(old, None)
        if value is not None:
            snapshot = CredentialSnapshot.model_validate_json(value)
            self.credentials[snapshot.token_sha256] = snapshot
            self._hash_of[key] = snapshot.token_sha256
        self._arrived()

    def _arrived(self) -> None:
        """Wake the requests waiting for a fresh token (`settle`)."""
        if self._arrival is not None:
            self._arrival.set()
            self._arrival = None


def _always() -> bool:
    return True


_MISSING = object()


def _fold(table: dict, key: str, snapshot: UnitSnapshot | CampaignSnapshot | None) -> None:
    if snapshot is None:
        table.pop(key, None)
    elif key not in table or table[key].revision <= snapshot.revision:
        table[key] = snapshot


class DirectoryHandler:
    """Folds the registry's topics into a Directory, in memory (no transaction)."""

    name = "directory"
    topics = FOLLOWED

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def handle(self, session: Session | None, batch: Batch) -> None:
        for message in batch.messages:
            try:
                key = message.key.decode() if message.key else ""
                self._directory.apply(message.topic, key, message.value)
            except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                batch.bury(message, str(exc))

    def committed(self, result: None) -> None:
        pass


def follower(settings: ServiceSettings, directory: Directory, metrics: ServiceMetrics, *,
             source: Source | None = None) -> Consumer:
    """A runner that reads the registry's topics from their beginning into `directory` and
    keeps following them; ready (`caught_up_ready`), and `directory` judging tokens, once
    read to the end. (`source`: the fast tier's MemorySource.)"""
    consumer = Consumer(DirectoryHandler(directory),
                        source or KafkaSource(settings, FOLLOWED, group=None), metrics)
    directory.read_to_end = consumer.caught_up.is_set
    return consumer
