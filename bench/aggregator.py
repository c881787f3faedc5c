"""bench/aggregator: report events per second into durable aggregates, against baselines.

In one run, on the embedded broker (Tansu): produce N report events (a realistic mix over
the 114 commune-level units, 40 departments and 10 press agencies, weeks of dai-hoi-xiv,
some revisions), then time (1) a raw aiokafka getmany loop that only counts, (2) the real
aggregator service folding them into SQLite, (3) Quix Streams counting per (unit, week,
kind) with its state store (its own virtualenv, .cache/quix-venv). Then end-to-end
freshness: reports submitted at 100/s through intake, from each HTTP 2xx to the change on
the aggregator's live stream.  Run: `.venv/bin/python -m bench.aggregator [--events N]`.
"""

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.intake import _start, _units, _wait, _wait_known
from deploy.brokers import ROOT, launch
from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import REPORTS

QUIX_PYTHON = ROOT / ".cache" / "quix-venv" / "bin" / "python"
WEEKS = [f"2026-W{n:02d}" for n in range(3, 10)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--freshness-seconds", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-aggregator-"))
    broker = launch("tansu", workdir=work / "broker")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        asyncio.run(_topic(broker.bootstrap))
        produced = asyncio.run(_produce(broker.bootstrap, args.events))
        raw = asyncio.run(_raw_loop(broker.bootstrap, produced))
        registry, admin = _start(processes, work, "registry", broker.bootstrap)
        ours, aggregator = _aggregator(processes, work, broker.bootstrap, produced)
        quix = _quix(broker.bootstrap, produced)
        fresh = _freshness(processes, work, broker.bootstrap, (registry, admin, aggregator),
                           args.freshness_seconds)
        _print(produced, raw, ours, quix, fresh)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        broker.stop()


async def _topic(bootstrap: str) -> None:
    settings = ServiceSettings(port=1, database_url="sqlite://", kafka_bootstrap=bootstrap)
    await ensure_topics(settings, (REPORTS,))


def _events(count: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(14)
    units = ([(f"xa-{n:03d}", "commune") for n in range(114)]
             + [(f"so-{n:02d}", "department") for n in range(40)]
             + [(f"bao-{n:02d}", "press") for n in range(10)])
    versions: dict[tuple[str, str], int] = {}
    out = []
    for _ in range(count):
        code, kind = rng.choice(units)
        week = rng.choice(WEEKS)
        version = versions[(code, week)] = versions.get((code, week), 0) + 1
        out.append((code.encode(), json.dumps(_event(rng, code, kind, week, version)).encode()))
    return out


def _event(rng: random.Random, code: str, kind: str, week: str,
           version: int) -> dict[str, Any]:
    start = date.fromisocalendar(2026, int(week[-2:]), 1)
    activities: list[dict[str, Any]] = [
        {"kind": "social_post", "count": rng.randint(1, 9),
         "platform": rng.choice(["facebook", "zalo", "youtube", "tiktok"]), "format": "news",
         "evidence_urls": []}]
    if kind == "commune":
        activities.append({"kind": "loudspeaker_broadcast", "count": 5, "evidence_urls": [],
                           "daily_counts": {str(start + timedelta(d)): 1 for d in range(5)}})
    else:
        activities.append({"kind": "foreign_language_item", "count": 1, "evidence_urls": [],
                           "language": rng.choice(["en", "zh", "ja", "ko"]),
                           "format": "bulletin"})
    return {"schema_version": 1, "report_id": f"{code}-{week}-v{version}", "unit_code": code,
            "unit_kind": kind, "campaign_code": "dai-hoi-xiv", "period": week,
            "period_start": str(start), "period_end": str(start + timedelta(6)),
            "version": version, "supersedes": None,
            "received_at": datetime.now(UTC).isoformat(),
            "deadline": datetime.now(UTC).isoformat(), "on_time": True,
            "activities": activities, "note": None}


async def _produce(bootstrap: str, count: int) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        pending = []
        for key, value in _events(count):
            pending.append(await producer.send(REPORTS.name, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


async def _raw_loop(bootstrap: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(REPORTS.name, p)
                      for p in metadata.partitions_for_topic(REPORTS.name) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, started = 0, time.perf_counter()
        while seen < expected:
            for records in (await consumer.getmany(timeout_ms=500,
                                                   max_records=10_000)).values():
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def _aggregator(processes: list, work: Path, bootstrap: str,
                expected: int) -> tuple[float, str]:
    url, _ = _start(processes, work, "aggregator", bootstrap)
    first = done = None
    while done is None:
        consumed = _metric(url, 'messages_consumed_total{topic="reporting.reports.v1"}')
        now = time.perf_counter()
        if first is None and consumed > 0:
            first = (now, consumed)
        if consumed >= expected:
            done = now
        time.sleep(0.05)
    assert first is not None
    return (expected - first[1]) / (done - first[0]), url


def _metric(url: str, series: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def _quix(bootstrap: str, expected: int) -> float | None:
    if not QUIX_PYTHON.exists():
        print("(Quix Streams not installed: python3 -m venv .cache/quix-venv && "
              ".cache/quix-venv/bin/pip install 'quixstreams~=3.28')", file=sys.stderr)
        return None
    output = subprocess.run([str(QUIX_PYTHON), str(ROOT / "bench" / "quix_count.py"),
                             bootstrap, REPORTS.name, str(expected)], capture_output=True,
                            text=True, timeout=1800)
    line = next((x for x in output.stdout.splitlines() if x.startswith("quix ")), None)
    if line is None:
        print(output.stderr[-2000:], file=sys.stderr)
        return None
    _, count, seconds = line.split()
    return int(count) / float(seconds)


def _freshness(processes: list, work: Path, bootstrap: str, urls: tuple[str, str, str],
               seconds: int) -> list[float]:
    registry, admin, aggregator = urls
    tokens = _units(registry, admin, 20)
    leader = httpx.post(registry + "/v1/credentials", headers={
        "authorization": f"Bearer {admin}"}, json={"scope": "leadership", "label": "b"}
        ).json()["token"]
    reporting, _ = _start(processes, work, "reporting", bootstrap)
    _wait_known(reporting, tokens[-1])
    _wait(aggregator + "/readyz")
    seen: dict[str, float] = {}
    listener = threading.Thread(target=_listen, args=(aggregator, leader, seen), daemon=True)
    listener.start()
    time.sleep(2)
    accepted = _submit_steadily(reporting, tokens, seconds)
    time.sleep(3)
    return sorted(seen[rid] - t for rid, t in accepted.items() if rid in seen)


def _listen(url: str, token: str, seen: dict[str, float]) -> None:
    try:
        _read_stream(url, token, seen)
    except httpx.HTTPError:
        pass  # the aggregator stops at the end of the run


def _read_stream(url: str, token: str, seen: dict[str, float]) -> None:
    with httpx.stream("GET", url + "/v1/progress/stream", timeout=None,
                      headers={"authorization": f"Bearer {token}"}) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                now = time.perf_counter()
                for report_id in json.loads(line[6:])["report_ids"]:
                    seen.setdefault(report_id, now)


def _submit_steadily(url: str, tokens: list[str], seconds: int) -> dict[str, float]:
    accepted: dict[str, float] = {}
    with httpx.Client(base_url=url, timeout=10) as client:
        started = time.perf_counter()
        for n in range(seconds * 100):
            time.sleep(max(0.0, started + n / 100 - time.perf_counter()))
            response = client.post("/v1/reports", headers={
                "authorization": f"Bearer {tokens[n % len(tokens)]}"}, json={
                "report_id": f"fresh-{n}", "campaign": "dai-hoi-xiv", "period": "2026-W04",
                "activities": [{"kind": "banner", "count": 1}]})
            if response.status_code == 201:
                accepted[f"fresh-{n}"] = time.perf_counter()
    return accepted


def _print(produced: int, raw: float, ours: float, quix: float | None,
           fresh: list[float]) -> None:
    print(f"bench/aggregator: {produced} report events on Tansu, aggregates in SQLite")
    print(f"  raw aiokafka getmany loop (count only) {raw:>10,.0f} events/s")
    print(f"  aggregator (durable aggregates)        {ours:>10,.0f} events/s  "
          f"= {ours / raw:.3f} x raw")
    if quix:
        print(f"  Quix Streams (state store count)       {quix:>10,.0f} events/s  "
              f"= {quix / raw:.3f} x raw;  aggregator / Quix = {ours / quix:.2f}")
    if fresh:
        p50, p95 = fresh[len(fresh) // 2], fresh[int(len(fresh) * 0.95) - 1]
        print(f"  freshness at 100 reports/s, intake 2xx -> live stream: "
              f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms ({len(fresh)} reports)")
    print("targets: aggregator at least 1.5 x Quix Streams; freshness p95 under 250 ms")


if __name__ == "__main__":
    main()
