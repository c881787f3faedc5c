"""Logging and metrics set-up, in one place. Nothing here runs at import time."""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_SECRET_KEYS = frozenset({"token", "authorization", "password", "admin_token", "secret"})


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never let a credential reach a log line, whoever passed it."""
    for key in _SECRET_KEYS.intersection(event):
        event[key] = "[redacted]"
    return event


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog once per process: JSON when not on a terminal."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    _route_stdlib_logging(shared, renderer, level)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def _route_stdlib_logging(shared: list[Any], renderer: Any, level: str) -> None:
    """Send library logs (uvicorn, aiokafka, alembic) through the same renderer."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "alembic", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class ServiceMetrics:
    """The metrics every service exports, on its own registry."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry()
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests answered.",
            ["route", "method", "status"], registry=self.registry)
        self.http_latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency.", ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry)
        self.published = Counter(
            "messages_published_total", "Messages published to Kafka.", ["topic"],
            registry=self.registry)
        self.consumed = Counter(
            "messages_consumed_total", "Messages consumed from Kafka.", ["topic"],
            registry=self.registry)
        self.errors = Counter(
            "errors_total", "Errors by where they happened.", ["kind"], registry=self.registry)
        self.consumer_lag = Gauge(
            "consumer_lag_messages", "Messages on the consumer's topics not yet handled.",
            ["consumer"], registry=self.registry)
        self.consumer_batch = Histogram(
            "consumer_batch_messages", "Messages per batch handed to a handler.", ["consumer"],
            buckets=(1, 10, 100, 1000, 10_000, 100_000), registry=self.registry)
        self.consumer_latency = Histogram(
            "consumer_batch_duration_seconds", "From a batch's arrival to its offsets "
            "committed (handler, transaction, commit).", ["consumer"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60),
            registry=self.registry)
        self.dead_letters = Counter(
            "consumer_dead_letters_total", "Unreadable messages set aside with their error.",
            ["consumer"], registry=self.registry)
