"""Wiring of the notifier service. Nothing is built at import time."""

import asyncio
import hmac
from collections import Counter
from collections.abc import Callable

import structlog
from fastapi import FastAPI
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from services.bus.consumer import Consumer, KafkaSource
from services.bus.directory import Directory, follower
from services.bus.relay_process import RelayProcess
from services.callers import Caller
from services.events import NOTIFIER_DEAD_LETTERS
from services.notifier.api import router
from services.notifier.channels import Channel, Email, SmtpSettings, Webhook
from services.notifier.dispatch import Clock, Dispatcher, Policy, RateLimit, SystemClock
from services.notifier.handlers import BreachesHandler, ReportsHandler
from services.notifier.metrics import NotifierMetrics
from services.notifier.migrations import MIGRATIONS
from services.notifier.models import Notification, State
from services.notifier.planning import Links
from services.notifier.schedule import NotificationRules
from services.notifier.scheduler import Scheduler
from services.notifier.settings import NotifierSettings
from services.web.app import Blueprint, Worker, build_app
from services.web.auth import Identify, Settling

log = structlog.get_logger()


def create_app(settings: NotifierSettings, clock: Clock | None = None) -> FastAPI:
    """Receipts, deadline reminders, breach alerts and the leadership's daily digest, by
    email and signed webhooks, each once."""
    directory, clock = Directory(), clock or SystemClock()
    rules = campaign_rules(directory, settings.department_emails)
    links = Links(how_to_report=settings.portal_url,
                  progress=settings.portal_url.rstrip("/") + "/tien-do")

    def wire(app: FastAPI, engine: Engine) -> list[Worker]:
        state = app.state
        state.directory, state.clock, state.links = directory, clock, links
        state.rules = rules
        metrics = NotifierMetrics(state.metrics)
        dispatcher = Dispatcher(
            engine, _channels(settings, directory), clock=clock,
            quiet_hours=lambda c: rules(c).quiet_hours,
            limits={"email": RateLimit(settings.email_per_second),
                    "webhook": RateLimit(settings.webhook_per_second)},
            policy=Policy(max_attempts=settings.max_attempts,
                          first_retry=settings.first_retry_seconds,
                          retry_cap=settings.retry_cap_seconds,
                          lease=settings.lease_seconds),
            observer=metrics)
        loop_wake = _LoopWake(dispatcher)
        state.wake_dispatcher = loop_wake
        state.follower = follower(settings, directory, state.metrics)
        reports = ReportsHandler(directory, state.rules, clock, on_planned=loop_wake)
        breaches = BreachesHandler(directory, state.rules, links, clock, on_planned=loop_wake)
        state.relay = RelayProcess("services.notifier.relay", settings, state.metrics)
        state.consumers = [
            Consumer(handler, KafkaSource(settings, handler.topics, group=handler.name,
                                          session_timeout_ms=settings.kafka_session_timeout_ms),
                     state.metrics, engine=engine, dead_letters=NOTIFIER_DEAD_LETTERS,
                     wake_relay=state.relay.wake)
            for handler in (reports, breaches)]
        scheduler = Scheduler(engine, directory, state.rules, links, clock,
                              ready=state.follower.caught_up.is_set,
                              every=settings.schedule_seconds, on_planned=loop_wake,
                              on_wave=metrics.waves.inc, on_digest=metrics.digests.inc)
        caught_up = state.follower.caught_up
        return [state.relay, loop_wake, state.follower,
                *(_AfterCatchUp(caught_up, consumer) for consumer in state.consumers),
                scheduler, dispatcher, _Waiting(engine, metrics)]

    def identify(app: FastAPI) -> Identify:
        admin = settings.admin_token.get_secret_value().encode()

        def caller(token: str) -> Caller | None:
            if hmac.compare_digest(token.encode(), admin):
                return Caller(scope="admin")
            return directory.caller(token)

        return Settling(caller, directory.settle)

    return build_app(Blueprint(
        name="notifier", title="Notifications", settings=settings, routers=[router],
        migrations=MIGRATIONS, wire=wire,
        checks={"broker": lambda app: app.state.consumers[0].ready(),
                "outbox relay": lambda app: app.state.relay.ready(),
                "registry": lambda app: app.state.follower.caught_up_ready()},
        identify=identify))


def campaign_rules(directory: Directory,
                   fallback_emails: list[str]) -> Callable[[str], NotificationRules]:
    """A campaign's notification rules, as the registry publishes them with the campaign;
    the configured addresses of the Department where the campaign names none. Asked once
    per message in a wave: each revision's rules are made once."""
    defaults = NotificationRules(department_emails=fallback_emails)
    made: dict[tuple[str, int], NotificationRules] = {}

    def rules(code: str) -> NotificationRules:
        campaign = directory.campaigns.get(code)
        if campaign is None:
            return defaults
        key = (code, campaign.revision)
        if key not in made:
            found = campaign.notifications
            made[key] = found if found.department_emails or not fallback_emails else \
                found.model_copy(update={"department_emails": list(fallback_emails)})
        return made[key]

    return rules


def _channels(settings: NotifierSettings, directory: Directory) -> dict[str, Channel]:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    channels: dict[str, Channel] = {"email": Email(SmtpSettings(
        host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from,
        domain=settings.mail_domain, starttls=settings.smtp_starttls,
        username=settings.smtp_username, password=password))}
    if settings.webhook_signing_key is not None:
        channels["webhook"] = Webhook(
            settings.webhook_signing_key.get_secret_value().encode(),
            generation=lambda code: (unit.webhook_secret_generation
                                     if (unit := directory.units.get(code)) else 1))
    return channels


class _LoopWake:
    """Wakes the dispatcher from the consumers' threads or the event loop (a worker: it
    learns the loop when it starts)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.Event().wait()

    def __call__(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._dispatcher.wake)


class _AfterCatchUp:
    """Starts a worker once the registry is read: a receipt needs the unit's address, a
    reminder wave every expected unit."""

    def __init__(self, caught_up: asyncio.Event, worker: Worker) -> None:
        self._caught_up, self._worker = caught_up, worker

    async def run(self) -> None:
        await self._caught_up.wait()
        await self._worker.run()


class _Waiting:
    """Keeps the notifications-waiting gauge current, off the event loop."""

    def __init__(self, engine: Engine, metrics: NotifierMetrics, every: float = 10.0) -> None:
        self._engine, self._metrics, self._every = engine, metrics, every

    async def run(self) -> None:
        while True:
            try:
                self._metrics.waiting_now(await asyncio.to_thread(self._count))
            except Exception as exc:  # the next round tries again
                log.warning("notifier.waiting_count_failed", error=repr(exc))
            await asyncio.sleep(self._every)

    def _count(self) -> dict[tuple[str, str], int]:
        with Session(self._engine) as session:
            rows = session.exec(select(Notification.state, Notification.kind, func.count())
                                .where(col(Notification.state).in_(
                                    [State.scheduled, State.sending, State.parked]))
                                .group_by(col(Notification.state), col(Notification.kind)))
            return Counter({(state, kind): count for state, kind, count in rows})
