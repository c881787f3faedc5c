"""The portal's app: pages, their static files, sessions and the services they call."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.config import load_settings
from services.observability import ServiceMetrics
from services.portal import bulk, on_behalf, pages, report
from services.portal.backends import BackendDown, Backends
from services.portal.sessions import Sessions
from services.portal.settings import PortalSettings
from services.web.caching import COMPRESS_FROM
from services.web.edge import install

log = structlog.get_logger()
STATIC = Path(__file__).parent / "static"
# Pages load only the portal's own files; no frame of another site may hold them.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
    "x-frame-options": "DENY"}


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or load_settings(PortalSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backends = Backends(settings)
        log.info("service.started", service="portal", port=settings.port)
        try:
            yield
        finally:
            await app.state.backends.close()
            log.info("service.stopped", service="portal")

    app = FastAPI(title="Portal", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    metrics = ServiceMetrics("portal")
    app.state.settings, app.state.metrics = settings, metrics
    app.state.sessions = Sessions(idle_seconds=settings.session_minutes * 60)
    install(app, metrics, {name: _reachable(app, name)
                           for name in ("registry", "reporting", "aggregator")})
    app.add_middleware(GZipMiddleware, minimum_size=COMPRESS_FROM)  # not event streams
    app.add_middleware(_SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(on_behalf.router)
    app.include_router(report.router)
    app.include_router(bulk.router)
    app.add_exception_handler(pages.SignInFirst, _sign_in_first)
    app.add_exception_handler(pages.PageRefused, _refused)
    app.add_exception_handler(BackendDown, _backend_down)
    app.add_exception_handler(StarletteHTTPException, _no_such_page)  # HTML, not the API's
    return app


def _reachable(app: FastAPI, name: str) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        await app.state.backends.healthy(name)
    return check


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every answer, and `no-store` to the signed-in pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = not scope["path"].startswith("/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if private:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, sending)


async def _sign_in_first(request: Request, _: Exception) -> Response:
    """No session, an expired one, or one whose token was revoked since: that session
    ends, and the sign-in page brings the person back here."""
    request.app.state.sessions.close(request.cookies.get(pages.SESSION_COOKIE))
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    answer = RedirectResponse(f"/dang-nhap?next={quote(back)}", 303)
    answer.delete_cookie(pages.SESSION_COOKIE, path="/")
    return answer


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, pages.PageRefused)
    return pages.render(request, "error.html", exc.status, message_key=exc.key)


async def _no_such_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return pages.render(request, "error.html", exc.status_code, message_key="not_found")


async def _backend_down(request: Request, exc: Exception) -> Response:
    log.warning("portal.backend_down", reason=str(exc))
    return pages.render(request, "error.html", 503, message_key="services_down")
