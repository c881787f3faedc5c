"""Who is signed in: sessions kept in the portal's memory, named by a random cookie.

The bearer token a person signed in with stays here, never in a page, a URL or a log; the
cookie holds only the session's random id. Each session has its own CSRF token, which every
form carries back. A session ends on sign-out or after `idle` without a request; a restart
of the portal signs everyone out (they sign in again with their token).
"""

import hmac
import secrets
import time
from dataclasses import dataclass, field

MAX_SESSIONS = 20_000


@dataclass
class PortalSession:
    token: str = field(repr=False)
    scope: str  # unit, leadership or admin
    unit_code: str | None
    kind: str | None  # the unit's kind
    name: str  # the unit's name, or the credential's label
    id: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    seen: float = field(default_factory=time.monotonic)

    def csrf_ok(self, given: object) -> bool:
        """Whether a form's `csrf` value is this session's (a file part never is)."""
        return isinstance(given, str) and given.isascii() and \
            hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, idle_seconds: float) -> None:
        self._idle = idle_seconds
        self._by_id: dict[str, PortalSession] = {}

    def open(self, session: PortalSession) -> PortalSession:
        if len(self._by_id) >= MAX_SESSIONS:
            self._sweep()
            while len(self._by_id) >= MAX_SESSIONS:  # the least recently used go first
                self._by_id.pop(min(self._by_id, key=lambda k: self._by_id[k].seen))
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> PortalSession | None:
        """The live session of this id (its idle time starts again), if any."""
        found = self._by_id.get(session_id or "")
        if found is None:
            return None
        now = time.monotonic()
        if now - found.seen > self._idle:
            self._by_id.pop(found.id, None)
            return None
        found.seen = now
        return found

    def close(self, session_id: str | None) -> None:
        self._by_id.pop(session_id or "", None)

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._by_id.items() if now - s.seen > self._idle]:
            self._by_id.pop(key, None)
