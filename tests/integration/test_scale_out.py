"""Scale-out by partitions: two aggregator processes and two notifier processes, each pair
one consumer group on one PostgreSQL database, as docker-compose.yml's scale-out profile
runs them (the databases made ready first by the schema job). Reports go in from several
clients; halfway through, one aggregator and one notifier are killed (SIGKILL).

Then: every partition was folded by one process at a time (the batches' hold intervals, from
the processes' debug logs, never overlap across processes on a partition), the work was
shared and taken over, the kept figures equal those of a single process folding the same
topics from the beginning (the rebuild), and no receipt was sent twice except those the
killed notifier had in flight, repeated under the same Message-ID.

On the Apache Kafka and PostgreSQL leg only."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session

from deploy.topology import DATA_SERVICES
from services.aggregator.store import (
    COUNT_COLUMNS,
    COUNTS,
    DAY_COLUMNS,
    DAYS,
    FIGURES,
    HEAD_COLUMNS,
    HEADS,
    TOTAL_FIGURES,
    TOTAL_KEY,
    TOTALS,
)
from services.database import hold_partitions
from services.events import REPORTS
from tests.receivers import SmtpServer
from tests.rig import ServiceProcess, on_legs, open_campaign, until

pytestmark = on_legs("kafka:postgres", why="scale-out runs on the Apache Kafka and "
                     "PostgreSQL leg")
ROOT = Path(__file__).resolve().parents[2]
UNITS = 60
SESSION_MS = "6000"  # the broker's least: a killed member's partitions move after this
# the rebuild judges loudspeaker verdicts once the aggregator starts on its database again
# (service.rejudge): the verdict columns are left out
VERDICTS = ("weekly_fails_on", "daily_fails_on", "judged_revision")
COMPARED = {  # the kept tables the feeds read, and the columns that must agree
    HEADS: tuple(c for c in HEAD_COLUMNS if c not in VERDICTS), COUNTS: COUNT_COLUMNS,
    DAYS: DAY_COLUMNS,
    FIGURES: ("campaign_code", "period", "unit_kind", "unit_parent", "reported", "on_time"),
    TOTALS: TOTAL_KEY + TOTAL_FIGURES}


def engine_of(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def kept(url: str, campaign: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = engine_of(url)
    try:
        with engine.connect() as connection:
            return {table.name: sorted(connection.execute(
                sa.select(*(table.c[name] for name in columns))
                .where(table.c.campaign_code == campaign)).all())
                for table, columns in COMPARED.items()}
    finally:
        engine.dispose()


def holds(process: ServiceProcess) -> list[tuple[str, float, float]]:
    """(partition, from, to) of every batch the process's fold committed."""
    found = []
    for line in process.logs().splitlines():
        if '"consumer.batch_committed"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("consumer") == "aggregator":
            found += [(partition, entry["held_from"], entry["held_to"])
                      for partition in entry["partitions"]]
    return found


def overlaps(first: list[tuple[str, float, float]],
             second: list[tuple[str, float, float]]) -> list[str]:
    by_partition = defaultdict(list)
    for partition, start, end in second:
        by_partition[partition].append((start, end))
    return [f"{partition}: {start:.3f}-{end:.3f} and {other_start:.3f}-{other_end:.3f}"
            for partition, start, end in first
            for other_start, other_end in by_partition[partition]
            if start < other_end and other_start < end]


def first_change(url: str, token: str, campaign: str, opened: list[str]) -> dict[str, Any]:
    """The first progress event of an aggregator's live stream for a campaign."""
    with httpx.stream("GET", url + "/v1/progress/stream", params={"campaign": campaign},
                      headers={"authorization": f"Bearer {token}"}, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith(": connected"):
                opened.append(url)
            elif line.startswith("data: "):
                return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended without a progress event")


def schema_job(broker: Any, databases: dict[str, str]) -> None:
    env = {"INIT_KAFKA_BOOTSTRAP": broker.bootstrap} | {
        f"INIT_{s.prefix}_DATABASE_URL": databases[s.name] for s in DATA_SERVICES}
    done = subprocess.run([sys.executable, "-m", "deploy.init", "schema"], cwd=ROOT,
                          env=os.environ | env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_two_of_each_share_the_partitions_and_lose_one_without_a_trace(
        broker, database_url, service_factory) -> None:
    databases = {s.name: database_url(s.name) for s in DATA_SERVICES}
    schema_job(broker, databases)  # as the compose file's init: no two processes migrate
    with SmtpServer() as smtp:
        registry = service_factory("registry", database=databases["registry"])
        reporting = service_factory("reporting", database=databases["reporting"])
        aggregators = [service_factory("aggregator", database=databases["aggregator"],
                                       log_level="DEBUG", kafka_session_timeout_ms=SESSION_MS)
                       for _ in range(2)]
        notifiers = [service_factory("notifier", database=databases["notifier"],
                                     smtp_port=str(smtp.port), lease_seconds="3",
                                     schedule_seconds="0.5", first_retry_seconds="0.5",
                                     kafka_session_timeout_ms=SESSION_MS) for _ in range(2)]
        campaign = open_campaign(registry)
        admin = registry.admin()
        codes = [f"xa-so-{uuid.uuid4().hex[:6]}" for _ in range(UNITS)]
        for code in codes:
            admin.post("/v1/units", json={
                "code": code, "name": f"Xã Mở Rộng {code[-6:]}", "kind": "commune",
                "active_from": "2025-07-01", "contacts": {"email": f"{code}@example.vn"}}
                       ).raise_for_status()
        issued = admin.post("/v1/credentials/batch", json={
            "unit_codes": codes, "label": "cán bộ xã"}).json()["items"]
        tokens = {item["unit_code"]: item["token"] for item in issued}
        leader = admin.post("/v1/credentials", json={"scope": "leadership",
                                                     "label": "Lãnh đạo Sở"}).json()["token"]
        schedule = admin.get(f"/v1/campaigns/{campaign}/periods").json()["items"]
        due = [p for p in schedule if p["due"]][-1]["period"]
        upcoming = next(p for p in schedule if not p["due"])["period"]
        def knows_the_units(notifier: ServiceProcess) -> bool:
            return notifier.client(leader).get("/v1/notifications/preview", params={
                "unit": codes[-1], "campaign": campaign, "period": due}).status_code == 200

        for notifier in notifiers:  # they know the last unit, its address and the campaign
            until(partial(knows_the_units, notifier), what="the notifiers know the units")

        def reports_of(index: int) -> list[tuple[str, dict[str, Any]]]:
            sent = [(due, {"kind": "banner", "count": index + 1}),
                    (upcoming, {"kind": "social_post", "count": 1, "platform": "zalo",
                                "format": "news"})]
            if index % 4 == 0:  # a revision: it replaces what the first version counted
                sent.append((due, {"kind": "banner", "count": index + 100}))
            return sent

        def submit(code: str, period: str, line: dict[str, Any]) -> None:
            answer = httpx.post(reporting.url + "/v1/reports", json={
                "campaign": campaign, "period": period, "activities": [line]},
                headers={"authorization": f"Bearer {tokens[code]}"}, timeout=30)
            assert answer.status_code == 201, answer.text

        # a change folded by either process reaches the live streams of both
        opened: list[str] = []
        with ThreadPoolExecutor(2) as pool:
            streams = [pool.submit(first_change, a.url, leader, campaign, opened)
                       for a in aggregators]
            until(lambda: len(opened) == 2, what="both streams open")
            submit(codes[0], *reports_of(0)[0])
            for stream in streams:
                assert stream.result(timeout=30)["units"] == [codes[0]]

        submitted, lock = [1], threading.Lock()
        total = sum(len(reports_of(i)) for i in range(UNITS))
        half = threading.Event()

        def unit_reports(index: int, code: str) -> None:
            for period, line in reports_of(index)[1 if index == 0 else 0:]:
                submit(code, period, line)
                with lock:
                    submitted[0] += 1
                    if submitted[0] >= total // 2:
                        half.set()

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(unit_reports, i, c) for i, c in enumerate(codes)]
            assert half.wait(120)
            shared = {partition for partition, _, _ in holds(aggregators[1])
                      if partition.startswith(REPORTS.name)}
            aggregators[1].kill()
            notifiers[1].kill()
            for future in futures:
                future.result()

        survivor = aggregators[0]
        progress = survivor.client(leader)

        def reported(period: str) -> int:
            answer = progress.get("/v1/progress", params={"campaign": campaign,
                                                          "period": period})
            return int(answer.json()["city"]["reported"]) if answer.status_code == 200 else -1

        until(lambda: reported(due) == UNITS and reported(upcoming) == UNITS, timeout=120,
              what=lambda: f"reported {reported(due)} and {reported(upcoming)} of {UNITS}")

        # one process at a time on each partition; the work was shared, then taken over
        first, second = holds(survivor), holds(aggregators[1])
        assert overlaps(first, second) == []
        assert shared, "the killed aggregator folded report partitions before it went"
        taken_over = {p for p, start, _ in first if p in shared and start > max(
            end for q, _, end in second if q == p)}
        assert taken_over == shared, (taken_over, shared)

        # the kept figures are a single process's: fold the same topics from the beginning
        rebuilt = database_url("aggregator")
        env = {"AGGREGATOR_DATABASE_URL": rebuilt, "AGGREGATOR_KAFKA_BOOTSTRAP": broker.bootstrap,
               "AGGREGATOR_KAFKA_IDEMPOTENCE": "false", "AGGREGATOR_LOG_JSON": "true"}
        done = subprocess.run([sys.executable, "-m", "services.aggregator.rebuild"], cwd=ROOT,
                              env=os.environ | env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        cluster, single = kept(databases["aggregator"], campaign), kept(rebuilt, campaign)
        assert len(cluster["period_reports"]) == 2 * UNITS
        assert cluster == single

        # every receipt went out; a repeat only for one the killed notifier held in flight
        engine = engine_of(databases["notifier"])
        try:
            def receipts() -> list[Any]:
                with engine.connect() as connection:
                    return list(connection.execute(sa.text(
                        "SELECT key, state, attempts FROM notifications WHERE kind = 'receipt' "
                        "AND campaign = :campaign"), {"campaign": campaign}).all())

            until(lambda: len(receipts()) == total and all(r.state == "sent"
                                                           for r in receipts()),
                  timeout=120, what=lambda: f"{Counter(r.state for r in receipts())}")
            rows = receipts()
        finally:
            engine.dispose()
        ids = Counter(str(m["Message-ID"]).strip() for m in smtp.messages
                      if f".{campaign}." in str(m["Message-ID"]))
        expected = {f"<{r.key.replace(':', '.')}@notifier.localhost>": r.attempts for r in rows}
        assert set(ids) == set(expected)
        repeated = {mid for mid, n in ids.items() if n > 1}
        assert all(expected[mid] >= 2 for mid in repeated), \
            "sent twice, yet taken once: not one the killed notifier held"
        assert all(n <= expected[mid] for mid, n in ids.items())


def test_a_partition_held_by_one_transaction_waits_for_its_commit_in_another(
        database_url) -> None:
    """What keeps a zombie (a process past its session timeout, still folding) and the new
    owner of its partitions apart: the second waits for the first's commit, then sees it."""
    engine = engine_of(database_url("aggregator"))
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE folded (n integer)"))
    # the moment the zombie commits: its lock goes with the commit, so the owner may take
    # it before `commit()` has even returned here
    held, committing, waited = threading.Event(), [0.0], [0.0]

    def zombie() -> None:
        with Session(engine) as session:
            hold_partitions(session, "aggregator", [(REPORTS.name, 1), (REPORTS.name, 0)])
            held.set()
            time.sleep(1.0)
            session.execute(sa.text("INSERT INTO folded VALUES (1)"))
            committing[0] = time.monotonic()
            session.commit()

    def owner() -> int:
        held.wait(10)
        with Session(engine) as session:
            hold_partitions(session, "aggregator", [(REPORTS.name, 0)])
            waited[0] = time.monotonic()
            return int(session.execute(sa.text("SELECT count(*) FROM folded")).scalar_one())

    def others() -> float:
        """Another partition of the group, or the partition in another group: no wait."""
        held.wait(10)
        with Session(engine) as session:
            hold_partitions(session, "notifier", [(REPORTS.name, 0)])
            hold_partitions(session, "aggregator", [(REPORTS.name, 2)])
            return time.monotonic()

    try:
        with ThreadPoolExecutor(3) as pool:
            first, second, third = pool.submit(zombie), pool.submit(owner), pool.submit(others)
            first.result()
            seen, free = second.result(), third.result()
        assert waited[0] >= committing[0] and seen == 1  # it waited, and then saw the row
        assert free < committing[0]
    finally:
        engine.dispose()
