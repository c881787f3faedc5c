"""Wiring of the notifier service. Nothing is built at import time."""

from fastapi import FastAPI

from services import skeleton
from services.notifier.settings import NotifierSettings


def create_app(settings: NotifierSettings) -> FastAPI:
    """The notifier service: probes, metrics, joined to the bus."""
    return skeleton.create_app("notifier", settings)
