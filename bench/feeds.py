"""bench/feeds (first part): the per-unit CSV of a period, `GET /v1/progress?format=csv`, at
114, 1,000 and 5,000 units.

Each unit (a commune) reports 2026-W04 with banners, social posts on two platforms and a
week of loudspeaker broadcasts; the reports are folded into a migrated SQLite database, then
the aggregator's route answers the CSV in process (its router, the shared error handlers, no
broker). Printed: rows, bytes, p50 and p95 of `--rounds` requests, and the growth from the
smallest size: a feed whose time grows with the square of the units shows it here (issue 16
measured 64.5 s at 5,000 units before `feeds.unit_rows` read the counts once). Target at
5,000 units: under 2 s. The other feeds, concurrency and memory of issue 16 are not measured
yet.

Run: `.venv/bin/python -m bench.feeds [--units 114 1000 5000] [--rounds 5]`.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from services import database
from services.aggregator import service
from services.aggregator.api import router
from services.aggregator.hub import ProgressHub
from services.aggregator.migrations import MIGRATIONS
from services.bus.directory import Directory
from services.web.auth import Caller
from services.web.errors import install_error_handlers
from tests.unit.test_aggregator_rules import arrivals, campaign, report, unit


def activities(n: int) -> list[dict[str, object]]:
    return [{"kind": "banner", "count": 1 + n % 5},
            {"kind": "social_post", "count": 3, "platform": "zalo", "format": "news"},
            {"kind": "social_post", "count": 1 + n % 3, "platform": "facebook",
             "format": "video"},
            {"kind": "loudspeaker_broadcast",
             "daily_counts": {f"2026-01-{day:02d}": 1 + (n + day) % 2 for day in range(19, 26)}}]


def setup(folder: Path, count: int) -> TestClient:
    engine = database.make_engine(f"sqlite:///{folder / f'aggregator-{count}.db'}")
    database.migrate(engine, MIGRATIONS)
    directory = Directory(campaigns={"dai-hoi-xiv": campaign()})
    codes = [f"xa-{n:05d}" for n in range(count)]
    directory.units.update({code: unit(code) for code in codes})
    for start in range(0, count, 500):
        with Session(engine) as session:
            service.fold(session, arrivals(tuple(
                report(code, activities=activities(n))
                for n, code in enumerate(codes[start:start + 500], start))))
            session.commit()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.engine, app.state.directory, app.state.hub = engine, directory, ProgressHub()
    app.state.identify = lambda token: Caller("admin")
    return TestClient(app, headers={"authorization": "Bearer admin"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[114, 1000, 5000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    print("GET /v1/progress?campaign=dai-hoi-xiv&period=2026-W04&format=csv, in process, "
          f"SQLite, {args.rounds} rounds after one warm-up")
    print(f"{'units':>6} | {'rows':>6} {'bytes':>10} | {'p50 ms':>8} {'p95 ms':>8} | "
          "p50 / smallest size's")
    first = None
    for count in args.units:
        client = setup(folder, count)
        params = {"campaign": "dai-hoi-xiv", "period": "2026-W04", "format": "csv"}
        body = client.get("/v1/progress", params=params)
        assert body.status_code == 200, body.text
        took = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            client.get("/v1/progress", params=params).raise_for_status()
            took.append((time.perf_counter() - started) * 1000)
        p50 = statistics.median(took)
        p95 = sorted(took)[min(len(took) - 1, round(0.95 * (len(took) - 1)))]
        first = first or p50
        print(f"{count:>6} | {body.text.count(chr(10)) - 1:>6} {len(body.content):>10,} | "
              f"{p50:>8.1f} {p95:>8.1f} | {p50 / first:6.1f}x")
    print(f"(databases in {folder})")


if __name__ == "__main__":
    main()
