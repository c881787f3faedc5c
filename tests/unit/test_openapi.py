"""What the OpenAPI documents promise about the shared edge: every status the edge itself
answers with is documented, with the body it really sends (found by the fuzzing in
tests/integration/test_fuzz.py)."""

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.aggregator.api import router as aggregator
from services.config import ServiceSettings
from services.registry.api import router as registry
from services.reporting.api import router as reporting
from services.web.app import Blueprint, build_app
from services.web.errors import documented

ERROR_BODY = "#/components/schemas/ErrorBody"


class Thing(BaseModel):
    name: str


things = APIRouter()


@things.post("/things", status_code=201, responses=documented(409))
def add_thing(thing: Thing) -> Thing:
    return thing


@things.get("/things")
def list_things(limit: Annotated[int, Query(ge=1)] = 10) -> list[Thing]:
    return []


def app_of(router: APIRouter) -> FastAPI:
    settings = ServiceSettings(port=1, database_url="sqlite://")
    return build_app(Blueprint(name="test", title="Test", settings=settings, routers=[router]))


def schema_of(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"])


def test_malformed_json_is_a_documented_400_with_the_error_body() -> None:
    app = app_of(things)
    answer = TestClient(app).post("/things", content=b"{", headers={
        "content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed_json"
    assert schema_of(app.openapi()["paths"]["/things"]["post"]["responses"]["400"]) == ERROR_BODY


def test_a_bad_parameter_is_a_422_documented_as_the_error_body_not_fastapis() -> None:
    app = app_of(things)
    answer = TestClient(app).get("/things", params={"limit": 0})
    assert answer.status_code == 422 and set(answer.json()) == {"error"}
    document = app.openapi()
    assert schema_of(document["paths"]["/things"]["get"]["responses"]["422"]) == ERROR_BODY
    assert "HTTPValidationError" not in str(document)
    assert {"ErrorBody", "ErrorDetail", "ErrorField"} <= set(document["components"]["schemas"])


def test_readiness_documents_its_503() -> None:
    responses = app_of(APIRouter()).openapi()["paths"]["/readyz"]["get"]["responses"]
    assert {schema_of(responses[status]) for status in ("200", "503")} == {
        "#/components/schemas/Readiness"}


@pytest.mark.parametrize("router", [registry, reporting, aggregator],
                         ids=["registry", "reporting", "aggregator"])
def test_every_route_of_a_service_documents_the_edges_refusals(router) -> None:
    operations = [(path, operation) for path, item in app_of(router).openapi()["paths"].items()
                  for operation in item.values()]
    assert operations
    for path, operation in operations:
        responses = operation["responses"]
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert schema_of(responses["400"]) == ERROR_BODY, path
        if "422" in responses and "application/json" in responses["422"].get("content", {}):
            assert "HTTPValidationError" not in str(responses["422"]), path
