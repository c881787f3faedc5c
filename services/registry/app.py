"""Wiring of the registry service. Nothing is built at import time."""


from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from services.bus.consumer import Consumer, KafkaSource
from services.bus.relay_process import RelayProcess
from services.registry import auth, service
from services.registry.api import router
from services.registry.handlers import OnBehalfReports
from services.registry.migrations import MIGRATIONS
from services.registry.settings import RegistrySettings
from services.web.app import Blueprint, Worker, build_app


def create_app(settings: RegistrySettings) -> FastAPI:
    """The registry: HTTP API, database, the relay that publishes snapshots, and the reader
    of reports entered on a unit's behalf (for the audit trail)."""

    def wire(app: FastAPI, engine: Engine) -> list[Worker]:
        state = app.state
        state.relay = RelayProcess("services.registry.relay", settings, state.metrics)
        key = settings.webhook_signing_key
        state.webhook_signing_key = key.get_secret_value().encode() if key else None
        reports = OnBehalfReports()
        state.consumer = Consumer(
            reports, KafkaSource(settings, reports.topics, group=reports.name,
                                 session_timeout_ms=settings.kafka_session_timeout_ms),
            state.metrics, engine=engine)
        return [state.relay, state.consumer]

    return build_app(Blueprint(
        name="registry", title="Registry of reporting units", settings=settings,
        routers=[router], migrations=MIGRATIONS, wire=wire,
        prepare=lambda engine: _prepare(engine, settings),
        checks={"broker": lambda app: app.state.relay.ready(),
                "audit consumer": lambda app: app.state.consumer.ready()},
        identify=lambda app: auth.identifier(settings, app.state.engine)))


def _prepare(engine: Engine, settings: RegistrySettings) -> None:
    with Session(engine) as session:
        if settings.seed_folder is not None:
            service.seed_campaigns(session, settings.seed_folder)
        if settings.republish_on_start:
            service.republish_all(session)
