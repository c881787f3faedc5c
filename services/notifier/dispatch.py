"""The dispatcher: delivers notifications as they fall due, once, and keeps trying.

Each round takes the due notifications under a lease (a dispatcher that dies with some in
flight leaves them to the next round once the lease runs out: they go again, under the same
key, so a receiver drops the repeat), delivers them through their channels, and stores each
outcome: sent; or failed, then tried again after an exponential back-off with jitter; or,
after the last attempt, parked with its last error until a person sends it again. Nothing
goes to a unit in its campaign's quiet hours: a message due then waits for their end. A
rate limit per channel protects the SMTP relay. Time comes from a clock, so tests drive it.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from services.bus.backoff import Backoff
from services.database import write_lock
from services.events import QuietHours
from services.notifier import store
from services.notifier.channels import Channel, DeliveryFailed, Outgoing
from services.notifier.models import Notification, State
from services.notifier.schedule import outside_quiet_hours

log = structlog.get_logger()


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RateLimit:
    """At most `per_second` deliveries a second on a channel (0: no limit)."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self._interval


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 8
    first_retry: float = 30.0  # seconds; doubled each failure, with jitter
    retry_cap: float = 3600.0
    lease: float = 120.0  # seconds a dispatcher holds what it took
    batch: int = 200
    concurrency: int = 20  # deliveries at once, per channel
    idle_poll: float = 1.0


class DispatchObserver(Protocol):
    def sent_one(self, notification: Notification, latency: float) -> None: ...

    def failed_one(self, notification: Notification, parked: bool) -> None: ...


class Dispatcher:
    def __init__(self, engine: Engine, channels: dict[str, Channel], *, clock: Clock,
                 quiet_hours: Callable[[str], QuietHours | None] = lambda campaign: None,
                 limits: dict[str, RateLimit] | None = None, policy: Policy = Policy(),
                 observer: DispatchObserver | None = None) -> None:
        self._engine, self._channels, self._clock = engine, channels, clock
        self._quiet_hours, self._policy, self._observer = quiet_hours, policy, observer
        self._limits = limits or {}
        self._wakeup = asyncio.Event()
        self._slots: dict[str, asyncio.Semaphore] = {}  # deliveries at once, per channel

    def wake(self) -> None:
        """Something fell due earlier than the next poll (call on the dispatcher's loop)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Dispatch until cancelled."""
        while True:
            try:
                done = await self.dispatch_once()
            except Exception as exc:  # the database is away: try again shortly
                log.error("notifier.dispatch_failed", error=repr(exc))
                done = 0
            if done < self._policy.batch:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self._policy.idle_poll)
                except TimeoutError:
                    pass

    async def dispatch_once(self) -> int:
        """One round: take what is due, deliver it, store the outcomes; how many were taken."""
        now = self._clock.now()
        taken = await asyncio.to_thread(self._claim, now)
        if not taken:
            return 0
        outcomes = await asyncio.gather(*(self._deliver(n, now) for n in taken))
        await asyncio.to_thread(self._settle, list(zip(taken, outcomes, strict=True)))
        return len(taken)

    def _claim(self, now: datetime) -> list[Notification]:
        lease_until = now + timedelta(seconds=self._policy.lease)
        with write_lock(self._engine), Session(self._engine, expire_on_commit=False) as session:
            taken = store.claim_due(session, now, lease_until, self._policy.batch)
            session.commit()
        return taken

    async def _deliver(self, notification: Notification, now: datetime) -> str | datetime | None:
        """None once delivered; a moment to wait for (quiet hours); else the error."""
        if notification.unit_code is not None:
            goes = outside_quiet_hours(now, self._quiet_hours(notification.campaign))
            if goes > now:
                return goes
        channel = self._channels.get(notification.channel)
        if channel is None:
            return f"no channel {notification.channel!r} is configured"
        limit = self._limits.get(notification.channel)
        if limit is not None:
            await limit.wait()
        slots = self._slots.setdefault(notification.channel,
                                       asyncio.Semaphore(self._policy.concurrency))
        try:
            async with slots:
                await channel.deliver(_outgoing(notification))
        except DeliveryFailed as exc:
            return str(exc)[:2000]
        except Exception as exc:  # a channel's own defect: still this message's failure
            log.error("notifier.channel_error", channel=notification.channel, error=repr(exc))
            return f"{type(exc).__name__}: {exc}"[:2000]
        return None

    def _settle(self, outcomes: list[tuple[Notification, str | datetime | None]]) -> None:
        now = self._clock.now()
        with write_lock(self._engine), Session(self._engine, expire_on_commit=False) as session:
            for notification, outcome in outcomes:
                self._apply(notification, outcome, now)
                session.add(notification)
            session.commit()
        for notification, outcome in outcomes:
            if self._observer is None:
                continue
            if outcome is None:
                due = notification.due_at.replace(tzinfo=notification.due_at.tzinfo or UTC)
                self._observer.sent_one(notification, max(0.0, (now - due).total_seconds()))
            elif isinstance(outcome, str):
                self._observer.failed_one(notification, notification.state == State.parked)

    def _apply(self, notification: Notification, outcome: str | datetime | None,
               now: datetime) -> None:
        notification.lease_until = None
        if outcome is None:
            notification.state, notification.sent_at = State.sent, now
        elif isinstance(outcome, datetime):  # quiet hours: not an attempt
            notification.state, notification.due_at = State.scheduled, outcome
            notification.attempts -= 1
        else:
            notification.last_error = outcome
            if notification.attempts >= self._policy.max_attempts:
                notification.state = State.parked
                log.warning("notifier.parked", key=notification.key,
                            channel=notification.channel, error=outcome)
            else:
                backoff = Backoff(self._policy.first_retry, self._policy.retry_cap)
                backoff.failures = notification.attempts - 1
                notification.state = State.scheduled
                notification.due_at = now + timedelta(seconds=backoff.next())

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


def resend(notification: Notification, now: datetime) -> None:
    """A parked notification due again now, its attempts counted afresh."""
    assert notification.state == State.parked, notification.state
    notification.state, notification.attempts, notification.due_at = State.scheduled, 0, now


def _outgoing(n: Notification) -> Outgoing:
    return Outgoing(key=n.key, kind=n.kind, unit_code=n.unit_code, recipient=n.recipient,
                    copy_to=n.copy_to, subject=n.subject, body=n.body, payload=n.payload)
