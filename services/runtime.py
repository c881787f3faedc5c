"""Starting a service process: settings, logging, one uvicorn server, clean stop on SIGTERM."""

from collections.abc import Callable
from types import FrameType
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from services.config import HttpSettings, load_settings
from services.observability import configure_logging

S = TypeVar("S", bound=HttpSettings)
GRACEFUL_SECONDS = 10  # for in-flight requests to finish after SIGTERM


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown; a finished shutdown exits 0."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(settings_cls: type[S], create_app: Callable[[S], FastAPI]) -> None:
    """Run a service until SIGINT or SIGTERM; the app's shutdown runs before exit."""
    settings = load_settings(settings_cls)
    configure_logging(level=settings.log_level, json=settings.log_json)
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, lifespan="on",
                            timeout_graceful_shutdown=GRACEFUL_SECONDS)
    _Server(config).run()
