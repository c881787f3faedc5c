"""Wiring of the reporting service. Nothing is built at import time."""

from fastapi import FastAPI

from services import skeleton
from services.reporting.settings import ReportingSettings


def create_app(settings: ReportingSettings) -> FastAPI:
    """The reporting service: probes, metrics, joined to the bus."""
    return skeleton.create_app("reporting", settings)
