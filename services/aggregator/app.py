"""Wiring of the aggregator service. Nothing is built at import time."""

from fastapi import FastAPI

from services import skeleton
from services.aggregator.settings import AggregatorSettings


def create_app(settings: AggregatorSettings) -> FastAPI:
    """The aggregator service: probes, metrics, joined to the bus."""
    return skeleton.create_app("aggregator", settings)
