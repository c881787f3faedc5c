"""Every service's OpenAPI document, fuzzed with schemathesis over real HTTP.

For each service and each caller (a unit, the leadership, the admin; the Department's staff
for the report entered on a unit's behalf), every operation gets a bounded, repeatable run
of generated requests: valid ones, invalid ones, and valid ones that name what exists (the
unit, its report, the campaign and a period), so that answers with data are checked too.
Every answer is checked: no 5xx, its status is documented, its body and content type are
what the document says for that status.

Schemathesis's pytest integration (`schemathesis.pytest.from_fixture`, needed as the
document only exists once the services run) fails with this pytest (it reads
`Function._nodeid`, which pytest 9.2 no longer has), so each operation's strategy is run
here with Hypothesis directly, as that integration does.
"""

import secrets
import time
import uuid
from dataclasses import dataclass

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, strategies
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.test_reporting import report
from tests.rig import ServiceProcess, on_legs, until

# The documents and the code behind them are the same on every leg: one leg is enough.
pytestmark = on_legs("tansu:sqlite", why="fuzzing runs on the tansu:sqlite leg only: the "
                     "API is the same on every leg")

CAMPAIGN, PERIOD = "dai-hoi-xiv", "2026-W04"  # the campaign the registry seeds
CHECKS: list[CheckFunction] = [schemathesis.checks.not_a_server_error, status_code_conformance,
                               response_schema_conformance, content_type_conformance]
# Per operation, caller and run; the same examples every run (derandomized), no shrinking
# (a failure is reported as found, with the curl command that repeats it).
SETTINGS = hypothesis.settings(max_examples=10, derandomize=True, database=None,
                               deadline=None, phases=[Phase.explicit, Phase.generate],
                               suppress_health_check=list(HealthCheck), print_blob=False)
# The live progress stream never ends: a request let in is read this long (schemathesis
# cuts an event stream short at its timeout), then its events are checked.
STREAM_SECONDS = 0.3
ANSWER_SECONDS = 10  # any other answer slower than this is a failure too (a hang, a lock)
# Registry writes that change what the other operations rely on go last in a run, once
# everything else has been tried with the state intact.
LAST = ("POST /v1/units/{code}/retire", "PUT /v1/campaigns/{code}", "DELETE /v1/units/{code}",
        "POST /v1/credentials/{credential_id}/revoke", "POST /v1/admin/republish")


@dataclass
class Fuzzed:
    """The four services, the callers the fuzzer speaks as and what exists."""

    services: dict[str, ServiceProcess]
    tokens: dict[str, str]
    unit: str
    report_id: str
    # What the fuzzer must not write to: its own unit and credentials (revoked, or deleted
    # with the unit, every later run would fuzz with a dead token and test only the 401),
    # and the campaign the feeds are read for. Nothing else is spared, and reads of these
    # are wanted.
    protected: set[str]

    def token(self, service: str, caller: str) -> str:
        """A caller's token; the admin's is each service's own (the rig gives each one; a
        service with no admin takes it for an unknown token, and answers 401)."""
        token = self.services[service].admin_token if caller == "admin" else self.tokens[caller]
        assert token is not None
        return token

    def known(self, operation: APIOperation) -> tuple[dict[str, str], dict[str, str]]:
        """The path and query parameters of an operation that can name what exists (in a
        write's path it could only name what is protected)."""
        code = CAMPAIGN if operation.path.startswith("/v1/campaigns") else self.unit
        values = {"code": code, "report_id": self.report_id, "unit": self.unit,
                  "campaign": CAMPAIGN, "period": PERIOD}
        reads = operation.method.upper() == "GET"
        return ({k: v for k, v in values.items() if reads and k in operation.path_parameters},
                {k: v for k, v in values.items() if k in operation.query})

    def spares(self, case: Case) -> bool:
        """Whether a case writes to what the fuzzer must leave alone."""
        named = {str(value) for value in (case.path_parameters or {}).values()}
        return case.method.upper() != "GET" and bool(self.protected & named)


@pytest.fixture(scope="module")
def fuzzed(module_services) -> Fuzzed:
    """A unit with a report, its token and a leadership token, known to every follower
    before the fuzzing starts."""
    registry = module_services("registry", webhook_signing_key=secrets.token_urlsafe(32))
    services = {"registry": registry} | {
        name: module_services(name) for name in ("reporting", "aggregator", "notifier")}
    unit = f"xa-fuzz-{uuid.uuid4().hex[:8]}"
    admin = registry.admin()
    admin.post("/v1/units", json={"code": unit, "name": f"Xã Thử {unit}", "kind": "commune",
                                  "active_from": "2025-07-01"}).raise_for_status()
    issued = {scope: admin.post("/v1/credentials", json={"scope": scope, "label": "fuzzing"} | (
        {"unit_code": unit} if scope == "unit" else {})).json()
        for scope in ("unit", "leadership", "department")}
    tokens = {scope: issued[scope]["token"] for scope in issued}
    reporting, aggregator = services["reporting"], services["aggregator"]
    until(lambda: reporting.client(tokens["unit"]).get("/v1/reports").status_code == 200)
    until(lambda: reporting.client(tokens["department"]).get("/v1/reports").status_code == 200)
    reporting.client(tokens["unit"]).post("/v1/reports", json=report(
        report_id="fuzz-w04")).raise_for_status()
    until(lambda: bool(aggregator.client(tokens["leadership"]).get(
        f"/v1/progress/units/{unit}", params={"campaign": CAMPAIGN}).json().get("periods")))
    until(lambda: aggregator.client(tokens["unit"]).get("/v1/progress", params={
        "campaign": CAMPAIGN, "period": PERIOD}).status_code == 403)
    return Fuzzed(services, tokens, unit, "fuzz-w04",
                  {unit, CAMPAIGN, *(c["id"] for c in issued.values())})


# The registry goes last, as its admin run writes what the other services read; within a
# service the admin goes last, for the same reason. The Department's staff are fuzzed on
# what only they may do (the other callers reach its body only as far as the 403).
RUNS = [(service, caller) for service in ("reporting", "aggregator", "notifier", "registry")
        for caller in ("unit", "leadership", "admin")]
RUNS.insert(0, ("reporting", "department"))
ONLY = {"department": {"POST /v1/reports/on-behalf"}}


@pytest.mark.parametrize(("service", "caller"), RUNS, ids=[f"{s}-{c}" for s, c in RUNS])
def test_every_answer_matches_the_openapi_document(fuzzed, service, caller) -> None:
    url = fuzzed.services[service].url
    schema = schemathesis.openapi.from_url(url + "/openapi.json", timeout=30)
    results = list(schema.get_all_operations())
    operations = sorted((result.ok() for result in results if isinstance(result, Ok)
                         and result.ok().label in ONLY.get(caller, {result.ok().label})),
                        key=lambda op: LAST.index(op.label) if op.label in LAST else -1)
    assert operations, f"no operation to fuzz as {caller}"
    headers = {"Authorization": f"Bearer {fuzzed.token(service, caller)}"}
    failures = [f"--- unreadable: {result.err()}" for result in results
                if not isinstance(result, Ok)]
    sent, started = 0, time.monotonic()
    with requests.Session() as session:
        for operation in operations:
            try:
                sent += _fuzz(operation, headers, fuzzed, session)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is
                # a BaseExceptionGroup; every operation is tried, and all that failed told
                failures.append(f"--- {operation.label} as {caller}\n{exc}" + "".join(
                    f"\n{note}" for note in getattr(exc, "__notes__", [])))
    print(f"\n{service} as {caller}: {len(operations)} operations, {sent} requests "
          f"in {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: APIOperation, headers: dict[str, str], fuzzed: Fuzzed,
          session: requests.Session) -> int:
    """Run one operation's examples; how many requests went out."""
    sent = 0
    path, query = fuzzed.known(operation)
    cases = strategies.one_of(
        *(operation.as_strategy(generation_mode=mode, headers=headers)
          for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)),
        *([operation.as_strategy(headers=headers, path_parameters=path, query=query)]
          if path or query else []))
    timeout = STREAM_SECONDS if operation.path.endswith("/stream") else ANSWER_SECONDS

    @SETTINGS
    @hypothesis.given(case=cases)
    def run(case: Case) -> None:
        nonlocal sent
        if fuzzed.spares(case):
            return
        sent += 1
        case.call_and_validate(session=session, checks=CHECKS, timeout=timeout)

    run()
    return sent
