"""Wiring of the notifier service. Nothing is built at import time."""

from fastapi import FastAPI
from sqlalchemy import Engine

from services.bus.directory import Directory, follower
from services.notifier.settings import NotifierSettings
from services.web.app import Blueprint, Worker, build_app


def create_app(settings: NotifierSettings) -> FastAPI:
    """The notifier: probes and metrics, following the registry. Receipts, reminders and
    alerts are not built yet (their own issue)."""
    directory = Directory()

    def wire(app: FastAPI, engine: Engine) -> list[Worker]:
        app.state.directory = directory
        app.state.follower = follower(settings, directory, app.state.metrics)
        return [app.state.follower]

    return build_app(Blueprint(
        name="notifier", title="Notifications", settings=settings, wire=wire,
        checks={"broker": lambda app: app.state.follower.ready(),
                "registry": lambda app: app.state.follower.caught_up_ready()},
        identify=lambda app: directory.caller))
