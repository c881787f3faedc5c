"""bench/intake: accepted reports per second and latency of POST /v1/reports.

One reporting worker on the embedded broker (Tansu) and SQLite (with its outbox relay, a
process the service starts beside itself, publishing all the while), driven by wrk at 1, 8
and 64 connections, against a bare FastAPI endpoint that validates the same body and answers
202, measured in the same run. The two take turns, several rounds at each client count, so
that a machine whose speed drifts (a shared, virtual one) slows both alike: the rate is the
mean over the rounds, p50 the median and p99 the worst round's.
Run: `.venv/bin/python -m bench.intake [--seconds 5] [--rounds 5]`.
"""

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from deploy.brokers import free_port, launch
from deploy.topology import SERVICES, service_env

LUA = r"""
local tokens = {%(tokens)s}
local body_format = [[%(body)s]]
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
init = function(args) prefix = "%(run)s-" .. id .. "-" end
request = function()
  counter = counter + 1
  local token = tokens[(counter %% #tokens) + 1]
  local body = string.format(body_format, prefix .. counter)
  return wrk.format("POST", "/v1/reports", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token}, body)
end
"""
BODY = ('{"report_id": "%s", "campaign": "dai-hoi-xiv", "period": "2026-W04", "activities": ['
        '{"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-19": 2, "2026-01-20": 1}},'
        '{"kind": "social_post", "count": 4, "platform": "zalo", "format": "infographic"}]}')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="turns of each, per client count")
    parser.add_argument("--units", type=int, default=114)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    broker = launch("tansu", workdir=work / "broker")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        registry, admin = _start(processes, work, "registry", broker.bootstrap)
        tokens = _units(registry, admin, args.units)
        reporting, _ = _start(processes, work, "reporting", broker.bootstrap)
        _wait_known(reporting, tokens[-1])
        bare = _start_bare(processes, work)
        for url in (reporting, bare):  # warm up, unmeasured
            _wrk(url, _script(work, tokens), 64, 2)
        before = _caught_up(reporting)
        rows = []
        for connections in (1, 8, 64):
            runs: dict[str, list[dict[str, float]]] = {"durable": [], "bare": []}
            for turn in range(args.rounds):
                order = (("bare", bare), ("durable", reporting))
                for name, url in order if turn % 2 == 0 else order[::-1]:
                    runs[name].append(_wrk(url, _script(work, tokens), connections,
                                           args.seconds))
            rows.append((connections, _combine(runs["durable"]), _combine(runs["bare"]),
                         [d["rate"] / b["rate"] for d, b in zip(runs["durable"], runs["bare"],
                                                                 strict=True)]))
        finished = time.monotonic()
        after = _caught_up(reporting)
        outcomes = {name: after[name] - before[name] for name in after}
        _print(rows, outcomes | {"lag": time.monotonic() - finished})
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        broker.stop()


def _script(work: Path, tokens: list[str]) -> Path:
    """A wrk script whose report ids no earlier run used: every request is a new report (a
    revision of its unit's last one), never a replay."""
    script = work / f"submit-{secrets.token_hex(4)}.lua"
    script.write_text(LUA % {"tokens": ", ".join(f'"{t}"' for t in tokens), "body": BODY,
                             "run": script.stem})
    return script


def _start(processes: list, work: Path, name: str, bootstrap: str) -> tuple[str, str]:
    service = next(s for s in SERVICES if s.name == name)
    port, admin = free_port(), secrets.token_urlsafe(32)
    env = service_env(service, port=port, bootstrap=bootstrap, idempotence=False,
                      database_url=f"sqlite:///{work / name}.db", admin_token=admin)
    env[f"{service.prefix}_LOG_LEVEL"] = "WARNING"
    log = (work / f"{name}.log").open("ab")
    processes.append(subprocess.Popen([sys.executable, "-m", service.module], stdout=log,
                                      stderr=subprocess.STDOUT, env=os.environ | env))
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/readyz")
    return url, admin


def _start_bare(processes: list, work: Path) -> str:
    port = free_port()
    log = (work / "bare.log").open("ab")
    processes.append(subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_intake:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"], stdout=log, stderr=subprocess.STDOUT))
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/docs")
    return url



def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def _units(registry: str, admin: str, count: int) -> list[str]:
    client = httpx.Client(base_url=registry, headers={"authorization": f"Bearer {admin}"})
    tokens = []
    for n in range(count):
        code = f"xa-bench-{n:03d}"
        client.post("/v1/units", json={"code": code, "name": f"Xã Bench {n:03d}",
                                       "kind": "commune", "active_from": "2025-07-01"})
        tokens.append(client.post("/v1/credentials", json={
            "scope": "unit", "unit_code": code, "label": "bench"}).json()["token"])
    return tokens


def _wait_known(reporting: str, token: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.get(reporting + "/v1/reports", headers={"authorization": f"Bearer {token}"})
        if answer.status_code == 200:
            return
        time.sleep(0.2)
    raise TimeoutError("reporting did not learn the bench units")


def _wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failed = int(errors[1]) if errors else 0
    return {"rate": rate * (total - failed) / total if total else 0.0,
            "p50": _latency(output, "50%"), "p99": _latency(output, "99%"), "failed": failed}


def _combine(runs: list[dict[str, float]]) -> dict[str, float]:
    """Rounds of one endpoint: mean rate, median p50, worst p99, all failures."""
    return {"rate": statistics.mean(r["rate"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": max(r["p99"] for r in runs), "failed": sum(r["failed"] for r in runs)}


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)\b", output)
    if match is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]
    return float(match[1]) * scale


def _caught_up(reporting: str, timeout: float = 30) -> dict[str, float]:
    """The service's counters once the relay has published every report stored."""
    deadline = time.monotonic() + timeout
    found = _outcomes(reporting)
    while found["published"] < found["stored"] and time.monotonic() < deadline:
        time.sleep(0.1)
        found = _outcomes(reporting)
    return found


def _outcomes(reporting: str) -> dict[str, float]:
    """Reports stored, replays answered and events published, from the service's counters."""
    found = {"stored": 0.0, "replayed": 0.0, "published": 0.0}
    for line in httpx.get(reporting + "/metrics").text.splitlines():
        if line.startswith("reports_accepted_total{"):
            found["stored"] += float(line.split()[-1])
        elif line.startswith("report_replays_total "):
            found["replayed"] = float(line.split()[-1])
        elif line.startswith('messages_published_total{topic="reporting.reports.v1"}'):
            found["published"] = float(line.split()[-1])
    return found


def _print(rows: list, outcomes: dict[str, float]) -> None:
    print("bench/intake: POST /v1/reports, 1 worker, Tansu + SQLite, wrk -t1")
    print(f"{'clients':>7} | {'durable/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} | "
          f"{'bare/s':>8} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} | ratio per round")
    for connections, durable, bare, ratios in rows:
        print(f"{connections:>7} | {durable['rate']:>9.0f} {durable['p50']:>7.2f} "
              f"{durable['p99']:>7.2f} {durable['failed']:>7.0f} | {bare['rate']:>8.0f} "
              f"{bare['p50']:>7.2f} {bare['p99']:>7.2f} | {durable['rate'] / bare['rate']:>5.2f} | "
              + " ".join(f"{ratio:.2f}" for ratio in ratios))
    print("targets: ratio at 64 clients >= 0.50; p99 at 8 clients < 50 ms")
    print(f"durable 2xx in the measured runs: {outcomes['stored']:.0f} reports stored (each a new "
          f"version), {outcomes['replayed']:.0f} replays; the relay published "
          f"{outcomes['published']:.0f} events, the last {outcomes['lag']:.1f} s after the "
          "last run ended")
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
