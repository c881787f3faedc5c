"""`/docs` works with no internet: every asset it loads comes from the service itself."""

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.web.docs import install_docs


def test_docs_load_every_asset_from_the_service_itself() -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    install_docs(app)
    client = TestClient(app)
    page = client.get("/docs")
    assert page.status_code == 200
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links and not [link for link in links if re.match(r"(https?:)?//", link)]
    for link in links:
        asset = client.get(link)
        assert asset.status_code == 200 and asset.content, link
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text


def test_docs_say_what_to_do_when_the_assets_are_not_installed(tmp_path: Path) -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    install_docs(app, assets=tmp_path)
    answer = TestClient(app).get("/docs")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "docs_assets_missing"
