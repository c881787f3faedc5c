"""The one shape of a service's app: each service fills a `Blueprint` with its own parts.

`build_app` makes the FastAPI app with the shared edge (errors, request ids, metrics,
probes, docs served from the service itself); its lifespan makes the engine, migrates,
lets the service wire its workers, runs them as tasks, and stops them in reverse order.
Nothing is built at import time.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from sqlalchemy import Engine

from services import database
from services.config import ServiceSettings
from services.observability import ServiceMetrics
from services.web.auth import Identify, bearer_scheme
from services.web.docs import install_docs
from services.web.edge import Endpoint, install
from services.web.errors import document_edge_refusals

log = structlog.get_logger()


class Worker(Protocol):
    """Something a service runs for as long as it lives (a consumer, a relay, a writer)."""

    async def run(self) -> None: ...


@dataclass
class Blueprint:
    """What makes one service: its name, routes, migrations, workers and checks."""

    name: str
    title: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    migrations: Path | None = None
    # Called in the lifespan once the database is migrated: puts the service's parts on
    # app.state and returns the workers to run. Blocking start-up work goes in `prepare`.
    wire: Callable[[FastAPI, Engine], Sequence[Worker]] = lambda app, engine: ()
    prepare: Callable[[Engine], None] | None = None
    # Readiness checks beyond the database's, each given the app.
    checks: Mapping[str, Callable[[FastAPI], Awaitable[object]]] = field(default_factory=dict)
    identify: Callable[[FastAPI], Identify] | None = None
    direct: Mapping[tuple[str, str], Endpoint] | None = None
    # FastAPI's OpenTelemetry hooks look up providers on every request to find none: off
    # where requests are the hot path.
    fastapi_options: dict[str, Any] = field(default_factory=dict)
    after_start: Callable[[], None] | None = None
    # Answers compressed (gzip) for clients that accept it, from this many bytes: for the
    # feeds, not for the intake path (event streams are never compressed).
    compress_from: int | None = None


def build_app(blueprint: Blueprint) -> FastAPI:
    """A service's FastAPI app from its blueprint."""
    metrics = ServiceMetrics(blueprint.name)
    app = FastAPI(title=blueprint.title, version="1", docs_url=None, redoc_url=None,
                  lifespan=partial(_lifespan, blueprint=blueprint),
                  **blueprint.fastapi_options)
    app.state.settings, app.state.metrics = blueprint.settings, metrics
    checks = {"database": lambda: database.ready(app.state.engine)} | {
        name: partial(check, app) for name, check in blueprint.checks.items()}
    install(app, metrics, checks, direct=blueprint.direct)
    install_docs(app)
    if blueprint.compress_from is not None:
        app.add_middleware(GZipMiddleware, minimum_size=blueprint.compress_from)
    _complete_openapi(app)
    for router in blueprint.routers:
        app.include_router(router)
    return app


def _complete_openapi(app: FastAPI) -> None:
    """What the edge adds to every OpenAPI document: its own refusals, and the bearer
    scheme even where no route takes a token yet, so that Swagger's "Authorize" is always
    there."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            document_edge_refusals(schema)
            schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes.setdefault("HTTPBearer", {"type": "http", "scheme": "bearer",
                                              "description": bearer_scheme.model.description})
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


@asynccontextmanager
async def _lifespan(app: FastAPI, *, blueprint: Blueprint) -> AsyncIterator[None]:
    settings = blueprint.settings
    engine = database.make_engine(settings.database_url)
    if blueprint.migrations is not None:
        await asyncio.to_thread(database.migrate, engine, blueprint.migrations)
    if blueprint.prepare is not None:
        await asyncio.to_thread(blueprint.prepare, engine)
    app.state.engine = engine
    if blueprint.identify is not None:
        app.state.identify = blueprint.identify(app)
    tasks = [asyncio.create_task(worker.run(), name=type(worker).__name__)
             for worker in blueprint.wire(app, engine)]
    if blueprint.after_start is not None:
        blueprint.after_start()
    log.info("service.started", service=blueprint.name, port=settings.port)
    try:
        yield
    finally:
        for task in reversed(tasks):  # the writer stops before the relay that follows it
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        engine.dispose()
        log.info("service.stopped", service=blueprint.name)
