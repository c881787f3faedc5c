"""Services' routers in process, for fast HTTP tests: the shared edge (error handlers, the
request middleware), a migrated SQLite database, tokens named by their scope. No broker, no
relay, no registry read model beyond what a test puts in."""

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from services.observability import ServiceMetrics
from services.web.auth import Caller
from services.web.edge import install

TOKENS = {"admin": Caller("admin"), "lanh-dao": Caller("leadership")}


def client(router: APIRouter, engine: Engine, metrics: ServiceMetrics | None = None,
           **state: Any) -> TestClient:
    """A client of an app made of `router`, the shared edge and `state`; the token of a
    unit caller is `unit:<code>`."""
    app = FastAPI()
    metrics = metrics or ServiceMetrics("test")
    install(app, metrics, {})
    app.include_router(router)
    app.state.engine, app.state.metrics = engine, metrics
    app.state.identify = lambda token: TOKENS.get(token) or (
        Caller("unit", unit_code=token[5:]) if token.startswith("unit:") else None)
    for name, value in state.items():
        setattr(app.state, name, value)
    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}

