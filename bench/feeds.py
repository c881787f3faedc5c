"""bench/feeds: every feed of the aggregator at 114, 5,000 and 20,000 units, with 1, 8 and
64 readers at once.

For each size: units (70% commune-level, the rest departments and press) and four weeks of
reports (2026-W03..W06; 85% of units report each week, a fifth of those revise, a tenth
late), folded into a migrated SQLite database as the aggregator folds them (the fold rate is
printed). Then a server process answers the aggregator's own routes (its router, edge,
metrics with the campaign gauges, and compression) over that database, with the registry's
units in its read model, and `wrk` reads each feed for `--seconds` with 1, 8 and 64
connections: p50 and p95 in ms, requests done, bytes of one answer, and how long the first
answer takes to make, in process (a request whose figures did not change since the last
is served as made: services.web.caching.Answers; the CSV is made every time). The CSV is read with
1 and 8 readers only (each answer is the whole table). Last, the growth of each feed's p50
from the smallest size, the server's peak memory, and the issue's targets at 5,000 units.

Run: `.venv/bin/python -m bench.feeds [--units 114 5000 20000] [--seconds 3]`.
The server alone: `python -m bench.feeds --serve DB UNITS PORT`.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from sqlmodel import Session

from bench.intake import _wait
from deploy.brokers import free_port
from services import database, periods
from services.aggregator import feeds, service
from services.aggregator.api import router
from services.aggregator.hub import ProgressHub
from services.aggregator.metrics import CampaignGauges
from services.aggregator.migrations import MIGRATIONS
from services.bus.directory import Directory
from services.events import PROVINCES, UNITS, ReportingPeriod, ReportSubmitted
from services.observability import ServiceMetrics
from services.web.auth import Caller
from services.web.caching import COMPRESS_FROM
from services.web.edge import install
from tests.unit.test_aggregator_rules import arrivals, campaign, unit

CAMPAIGN = "dai-hoi-xiv"
WEEKS = ("2026-W03", "2026-W04", "2026-W05", "2026-W06")
PERIOD = "2026-W04"
TOKEN = "bench-reader"
PARENT_CODES = sorted(PROVINCES)


def kind_of(n: int) -> str:
    return "commune" if n % 10 < 5 else "ward" if n % 10 < 7 else \
        "department" if n % 10 < 9 else "press"


def code_of(n: int) -> str:
    return f"dv-{n:05d}"


def parent_of(n: int) -> str:
    """Units spread over the 34 provinces, as a national deployment's would be."""
    return PARENT_CODES[n % len(PARENT_CODES)]


def directory_of(count: int) -> Directory:
    directory = Directory(campaigns={CAMPAIGN: campaign(starts_on=date(2026, 1, 5))})
    for n in range(count):
        u = unit(code_of(n), kind_of(n), parent=parent_of(n))
        directory.apply(UNITS.name, u.code, u.model_dump_json().encode())
    return directory


def reports(count: int, seed: int = 16, weeks: tuple[str, ...] = WEEKS
            ) -> list[ReportSubmitted]:
    """Every version of every report the units send, in the order they arrive."""
    rng = random.Random(seed)
    found = []
    for week in weeks:
        start, end = periods.bounds(week, ReportingPeriod.iso_week)
        deadline = datetime.combine(end + timedelta(days=1), clock(10), UTC)
        for n in range(count):
            if rng.random() > 0.85:
                continue
            first = deadline - timedelta(hours=rng.randint(1, 90)) if rng.random() > 0.1 \
                else deadline + timedelta(hours=rng.randint(1, 48))
            for version in (1, 2) if rng.random() < 0.2 else (1,):
                at = first + timedelta(hours=version - 1)
                found.append(_report(rng, n, week, start, deadline, version, at, first))
    found.sort(key=lambda e: e.received_at)
    return found


def _report(rng: random.Random, n: int, week: str, start: date, deadline: datetime,
            version: int, at: datetime, first: datetime) -> ReportSubmitted:
    code, kind = code_of(n), kind_of(n)
    activities: list[dict[str, Any]] = [
        {"kind": "banner", "count": rng.randint(1, 5)},
        {"kind": "social_post", "count": rng.randint(1, 6),
         "platform": rng.choice(("facebook", "zalo", "youtube", "tiktok")), "format": "news"}]
    if rng.random() < 0.3:
        activities.append({"kind": "foreign_language_item", "count": 1, "format": "bulletin",
                           "language": rng.choice(("en", "zh", "ja", "ko"))})
    if kind in ("commune", "ward"):
        activities.append({"kind": "loudspeaker_broadcast", "daily_counts": {
            str(start + timedelta(days=d)): rng.randint(0, 2) for d in range(7)}})
    return ReportSubmitted.model_validate({
        "report_id": f"{code}-{week}-v{version}", "unit_code": code, "unit_kind": kind,
        "campaign_code": CAMPAIGN, "period": week, "period_start": start,
        "period_end": start + timedelta(days=6), "version": version,
        "supersedes": f"{code}-{week}-v{version - 1}" if version > 1 else None,
        "received_at": at, "first_received_at": first, "deadline": deadline,
        "on_time": first <= deadline, "activities": activities})


def fold(path: Path, count: int) -> tuple[int, float]:
    """Fold the size's reports into a fresh database; (events, seconds)."""
    engine = database.make_engine(f"sqlite:///{path}")
    database.migrate(engine, MIGRATIONS)
    directory = directory_of(count)
    events = reports(count)
    started = time.perf_counter()
    with database.write_lock(engine), Session(engine) as session:  # the unit topic's records
        service.reparent(session, [(code_of(n), parent_of(n), 1) for n in range(count)])
        session.commit()
    for at in range(0, len(events), 1000):
        with database.write_lock(engine), Session(engine) as session:
            service.fold(session, arrivals(tuple(events[at:at + 1000])), directory.campaigns)
            session.commit()
    took = time.perf_counter() - started
    engine.dispose()
    return len(events), took


def serve(path: Path, count: int, port: int) -> None:
    """The aggregator's routes over a folded database (no broker: the read model is made
    here from the same units)."""
    import uvicorn

    engine = database.make_engine(f"sqlite:///{path}")
    directory = directory_of(count)
    metrics = ServiceMetrics("aggregator")
    gauges = CampaignGauges(metrics)
    with Session(engine) as session:
        gauges.refresh(session, directory, datetime.now(UTC))
    app = FastAPI()
    install(app, metrics, {})
    app.add_middleware(GZipMiddleware, minimum_size=COMPRESS_FROM)
    app.include_router(router)
    app.state.engine, app.state.directory, app.state.hub = engine, directory, ProgressHub()
    app.state.identify = lambda token: Caller("leadership") if token == TOKEN else None
    uvicorn.run(app, port=port, log_level="warning", access_log=False)


LUA = """
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Accept-Encoding"] = "gzip"
function done(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d\\n", latency:percentile(50),
    latency:percentile(95), summary.requests, summary.errors.status))
end
"""

FEEDS = {
    "summary": f"/v1/progress?campaign={CAMPAIGN}&period={PERIOD}",
    "summary, communes": f"/v1/progress?campaign={CAMPAIGN}&period={PERIOD}&kind=commune",
    "summary, a province": f"/v1/progress?campaign={CAMPAIGN}&period={PERIOD}&parent=31",
    "by province": f"/v1/progress/parents?campaign={CAMPAIGN}&period={PERIOD}",
    "missing, a page": f"/v1/progress/missing?campaign={CAMPAIGN}&period={PERIOD}&limit=100",
    "below target, a page": f"/v1/progress/below-target?campaign={CAMPAIGN}&period={PERIOD}"
                            "&limit=100",
    "unit table, a page": f"/v1/progress/units?campaign={CAMPAIGN}&period={PERIOD}&limit=100",
    "a unit's page": f"/v1/progress/units/{code_of(1)}?campaign={CAMPAIGN}",
    "a unit's days, a page": f"/v1/progress/units/{code_of(1)}/days?campaign={CAMPAIGN}"
                             "&limit=100",
    "/metrics": "/metrics",
    "CSV, every unit": f"/v1/progress?campaign={CAMPAIGN}&period={PERIOD}&format=csv",
}
SLOW = {"CSV, every unit"}
READERS = (1, 8, 64)


def wrk(url: str, script: Path, readers: int, seconds: float) -> tuple[float, float, int, int]:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{readers}", f"-d{max(1, round(seconds))}s", "--timeout", "300s", "-s",
         str(script), url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+)", output)
    assert match is not None, output
    p50, p95, done, errors = (int(x) for x in match.groups())
    return p50 / 1000, p95 / 1000, done, errors


def made(path: Path, count: int, rounds: int = 20) -> dict[str, str]:
    """How long each JSON feed takes to make, in process (median ms of `rounds`): what a
    request costs when its answer is not already made."""
    engine = database.make_engine(f"sqlite:///{path}")
    directory = directory_of(count)
    view = service.period_or_raise(directory.campaigns, CAMPAIGN, PERIOD)
    communes = service.period_or_raise(directory.campaigns, CAMPAIGN, PERIOD, "commune")
    province = service.period_or_raise(directory.campaigns, CAMPAIGN, PERIOD, parent="31")
    today = periods.today()
    makers: dict[str, Callable[[Session], object]] = {
        "summary": lambda s: feeds.progress(s, directory, view, today),
        "summary, communes": lambda s: feeds.progress(s, directory, communes, today),
        "summary, a province": lambda s: feeds.progress(s, directory, province, today),
        "by province": lambda s: feeds.by_parent(s, directory, view, today),
        "missing, a page": lambda s: feeds.missing(s, directory, view, after=None, limit=100),
        "below target, a page": lambda s: feeds.below_target(
            s, directory, view, today, rule=None, after=None, limit=100),
        "unit table, a page": lambda s: feeds.unit_table(s, directory, view, after=None,
                                                         limit=100),
        "a unit's page": lambda s: feeds.unit_progress(s, directory.units[code_of(1)],
                                                       CAMPAIGN),
        "a unit's days, a page": lambda s: feeds.unit_days(
            s, directory.units[code_of(1)], directory.campaigns[CAMPAIGN], after=None,
            limit=100)}
    found = {}
    for name, make in makers.items():
        took = []
        for _ in range(rounds + 1):
            started = time.perf_counter()
            with Session(engine) as session:
                make(session)
            took.append((time.perf_counter() - started) * 1000)
        found[name] = f"{statistics.median(took[1:]):.1f}"
    engine.dispose()
    return found


def peak_memory(pid: int) -> tuple[float, float]:
    """(RSS now, peak RSS) of a process, MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    now, peak = (int(re.search(rf"{name}:\s+(\d+)", status)[1])  # type: ignore[index]
                 for name in ("VmRSS", "VmHWM"))
    return now / 1024, peak / 1024


def measure(folder: Path, count: int, seconds: float) -> dict[Any, Any]:
    path = folder / f"aggregator-{count}.db"
    events, took = fold(path, count)
    print(f"\n{count:,} units: {events:,} report events folded in {took:.1f} s "
          f"({events / took:,.0f} events/s)")
    making = made(path, count)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.feeds", "--serve", str(path),
                               str(count), str(port)], env=os.environ | {"PYTHONHASHSEED": "0"})
    base = f"http://127.0.0.1:{port}"
    script = folder / "read.lua"
    script.write_text(LUA % {"token": TOKEN})
    results: dict[Any, Any] = {"memory_idle": 0.0}
    try:
        _wait(base + "/healthz", timeout=120)
        results["memory_idle"] = peak_memory(server.pid)[0]
        print(f"{'feed':<22} | {'bytes':>10} | {'made ms':>8} | " + " | ".join(
            f"{n:>2} reader{'s' if n > 1 else ' '}: p50 / p95 ms (done)" for n in READERS))
        for name, path_query in FEEDS.items():
            body = httpx.get(base + path_query, headers={"authorization": f"Bearer {TOKEN}"},
                             timeout=300)
            assert body.status_code == 200, body.text[:300]
            cells = []
            for readers in READERS:
                if name in SLOW and readers > 8:
                    cells.append(f"{'-':>33}")
                    continue
                p50, p95, done, errors = wrk(base + path_query, script, readers,
                                             seconds * (2 if name in SLOW else 1))
                assert errors == 0, f"{name}: {errors} errors"
                results[name, readers] = (p50, p95)
                cells.append(f"{p50:>10.1f} / {p95:>8.1f} ({done:>6,})")
            print(f"{name:<22} | {len(body.content):>10,} | {making.get(name, '-'):>8} | "
                  + " | ".join(cells))
        results["memory"] = peak_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"server memory: {results['memory_idle']:.0f} MB after start, "
          f"{results['memory'][1]:.0f} MB at its peak")
    return results


def report_targets(sizes: list[int], found: dict[int, dict[Any, Any]]) -> None:
    first = sizes[0]
    print(f"\ngrowth of p50 with one reader, from {first:,} units:")
    for name in FEEDS:
        base = found[first][name, 1][0]
        print(f"  {name:<22} " + "  ".join(
            f"{n:,}: {found[n][name, 1][0] / base:5.1f}x" for n in sizes[1:]))
    if 5000 not in found:
        return
    at = found[5000]
    checks = [
        ("summary p95, 8 readers < 50 ms", at["summary", 8][1], 50),
        ("summary of a province p95, 8 readers < 50 ms", at["summary, a province", 8][1], 50),
        ("by province p95, 8 readers < 50 ms", at["by province", 8][1], 50),
        ("a unit's page p95, 8 readers < 50 ms", at["a unit's page", 8][1], 50),
        *((f"{name} p95, 8 readers < 100 ms", at[name, 8][1], 100)
          for name in ("missing, a page", "below target, a page", "unit table, a page",
                       "a unit's days, a page")),
        ("/metrics p95, 8 readers < 20 ms", at["/metrics", 8][1], 20),
        ("CSV of 5,000 units p50 < 2,000 ms", at["CSV, every unit", 1][0], 2000),
        ("server peak memory < 300 MB", at["memory"][1], 300)]
    if len(sizes) > 1:
        checks.append(("summary p50 from smallest to largest size, within 2x",
                       found[sizes[-1]]["summary", 1][0] / found[first]["summary", 1][0], 2))
    print("\ntargets at 5,000 units:")
    for label, value, limit in checks:
        print(f"  {'met    ' if value < limit else 'MISSED '} {label}: {value:,.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[114, 5000, 20000])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--serve", nargs=3, metavar=("DB", "UNITS", "PORT"))
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), int(args.serve[2]))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    print(f"bench/feeds: SQLite, period {PERIOD} of four weeks, wrk for {args.seconds:g} s a "
          "cell (CSV twice as long), gzip accepted")
    found = {count: measure(folder, count, args.seconds) for count in args.units}
    report_targets(args.units, found)
    print(json.dumps({"databases": str(folder)}))


if __name__ == "__main__":
    main()
