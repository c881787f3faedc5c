"""`/docs` (Swagger UI) served from the service itself, never from a CDN: the users'
networks may have no internet. The files come from the npm package `swagger-ui-dist`, at
the version pinned in package.json, installed by `make` (npm ci) into node_modules/."""

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from services.web.errors import error_body

ASSETS = Path(__file__).resolve().parents[2] / "node_modules" / "swagger-ui-dist"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def install_docs(app: FastAPI, assets: Path = ASSETS) -> None:
    """Add `/docs` and its assets under `/docs/assets/`; 503 when they are not installed."""
    present = all((assets / name).is_file() for name in FILES)
    if present:
        app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        if not present:
            return JSONResponse(error_body(
                "docs_assets_missing", "the Swagger UI files are not installed: run "
                "`make run` or `npm ci` in the repository"), status_code=503)
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title}: API", swagger_js_url=f"{root}/docs/assets/{FILES[0]}",
            swagger_css_url=f"{root}/docs/assets/{FILES[1]}",
            swagger_favicon_url=f"{root}/docs/assets/{FILES[2]}",
            # no validator badge: it would be fetched from swagger.io, which the users'
            # networks may not reach
            swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None})
