"""Load, faults and the ground truth they are judged by: one module for the fault-injection
test (tests/integration/test_faults.py) and the soak (`python -m bench.soak`).

- `Load` submits reports at a steady rate from many units over several periods, most of
  them revisions (the same unit and period again, with other counts), and keeps every 2xx
  receipt. A try that fails (a 5xx, a connection refused or cut while a process is killed)
  is sent again with the same report_id, which intake makes idempotent, and counted.
- `Faults` kills a service, an outbox relay or the broker with SIGKILL and starts it
  again, or stops the broker for a while, and times how long every service then takes to
  be ready; `revocation` times a revoked credential's refusal.
- `Watch` samples every service's readiness and memory all the while.
- `verify` judges the run from the ground truth (the receipts, what reporting stored):
  every stored report on the topic, the aggregator's figures equal to what the standing
  reports give (each unit's highest version per period), nothing counted twice, and a
  rebuild from the topic giving the live figures.
"""

import dataclasses
import json
import math
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

import httpx

from services.bus.backoff import Backoff
from services.events import REPORTS
from tests.rig import ServiceProcess, TopicReader, children_of, command_of, resident_bytes

CAMPAIGN = "dai-hoi-xiv"
PERIODS = tuple(f"2026-W{week:02d}" for week in range(4, 9))
DETAILS = ("platform", "format", "language", "channel")
Key = tuple[str, str]  # (unit, period)
Figures = dict[str, Any]


# --- the load ----------------------------------------------------------------------------


def report(rng: random.Random, report_id: str, period: str) -> dict[str, Any]:
    """A report with a line of most activity kinds, every count drawn anew: a revision
    differs from what it replaces in every figure."""
    monday = date.fromisocalendar(int(period[:4]), int(period[-2:]), 1)
    days = sorted(rng.sample(range(7), rng.randint(1, 7)))
    return {"campaign": CAMPAIGN, "period": period, "report_id": report_id, "activities": [
        {"kind": "loudspeaker_broadcast",
         "daily_counts": {str(monday + timedelta(days=d)): rng.randint(1, 3) for d in days}},
        {"kind": "banner", "count": rng.randint(1, 5)},
        {"kind": "social_post", "count": rng.randint(1, 9),
         "platform": rng.choice(("facebook", "zalo", "youtube", "tiktok")),
         "format": rng.choice(("news", "article", "infographic", "video"))},
        {"kind": "foreign_language_item", "count": rng.randint(1, 3),
         "language": rng.choice(("en", "zh", "ja", "ko")), "format": "bulletin"},
        {"kind": "article", "count": rng.randint(1, 4),
         "channel": rng.choice(("press", "portal", "radio"))},
        {"kind": "mobilisation", "count": 1, "people_mobilised": rng.randint(10, 500),
         "shares": rng.randint(1, 2000)}]}


@dataclass(frozen=True)
class Accepted:
    """A report intake answered 2xx for: the unit, what was sent, and the receipt."""

    unit: str
    body: dict[str, Any]
    receipt: dict[str, Any]

    @property
    def key(self) -> Key:
        return self.unit, self.body["period"]

    @property
    def version(self) -> int:
        return int(self.receipt["version"])


class Load:
    """Reports at `rate` a second from the units of `tokens` (code -> token) until `stop`,
    sent by a pool of threads, each report sent again until it has a 2xx or a 4xx.
    (Threads with httpx's blocking client: its asyncio client managed a fifth of their rate
    here.)"""

    def __init__(self, url: str, tokens: dict[str, str], *, rate: float, seed: int = 14,
                 senders: int = 32) -> None:
        self._url, self._tokens, self._rate = url, tokens, rate
        self._rng = random.Random(seed)
        self._run = f"load-{uuid.uuid4().hex[:6]}"
        self._stopping, self._abandon = threading.Event(), threading.Event()
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._pace, name="load-pace", daemon=True)] + [
            threading.Thread(target=self._send, name=f"load-{n}", daemon=True)
            for n in range(senders)]
        self.accepted: list[Accepted] = []
        self.retried: Counter[str] = Counter()  # tries sent again, by what went wrong
        self.refused: Counter[str] = Counter()  # 4xx answers, by status and code
        self.replayed = 0  # retries answered with the first receipt: it had been stored
        self.sent = 0
        self.started_at = self.stopped_at = 0.0

    def start(self) -> "Load":
        self.started_at = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 120) -> None:
        """Send nothing new; wait until every report sent has its answer."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stopped_at = time.monotonic()
        if any(thread.is_alive() for thread in self._threads):
            self._abandon.set()
            raise TimeoutError(f"reports still unanswered {timeout:.0f} s after the load "
                               f"stopped: {self.retried}")

    @property
    def units(self) -> int:
        return len(self._tokens)

    @property
    def seconds(self) -> float:
        return (self.stopped_at or time.monotonic()) - self.started_at

    def _pace(self) -> None:
        units = sorted(self._tokens)
        began = time.monotonic()
        while not self._stopping.is_set():
            late = time.monotonic() - (began + self.sent / self._rate)
            if late < 0:
                self._stopping.wait(min(-late, 0.5))
                continue
            if late > 1:  # this process was held up: go on at the rate, not in a burst
                began += late
            unit, period = self._rng.choice(units), self._rng.choice(PERIODS)
            self._queue.put((unit, report(self._rng, f"{self._run}-{self.sent:06d}", period)))
            self.sent += 1
        for _ in self._threads[1:]:
            self._queue.put(None)

    def _send(self) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as client:
            while (item := self._queue.get()) is not None:
                self._submit(client, *item)

    def _submit(self, client: httpx.Client, unit: str, body: dict[str, Any]) -> None:
        content = json.dumps(body).encode()
        headers = {"authorization": f"Bearer {self._tokens[unit]}",
                   "content-type": "application/json"}
        backoff = Backoff(first=0.2, cap=2.0)
        while not self._abandon.is_set():
            try:
                response = client.post("/v1/reports", content=content, headers=headers)
            except httpx.TransportError as exc:
                self._count(self.retried, type(exc).__name__)
            else:
                status = response.status_code
                if status < 300:
                    with self._lock:
                        self.replayed += response.headers.get("idempotent-replayed") == "true"
                        self.accepted.append(Accepted(unit, body, response.json()))
                    return
                if status < 500:
                    self._count(self.refused, f"{status} {_code(response)}")
                    return
                self._count(self.retried, f"{status} {_code(response)}")
            time.sleep(backoff.next())

    def _count(self, counter: Counter[str], what: str) -> None:
        with self._lock:
            counter[what] += 1


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return response.text[:60]


# --- the stack and its faults ------------------------------------------------------------


@dataclass
class Stack:
    """The services under fault, on a broker of their own."""

    broker: Any  # deploy.brokers' Tansu or ApacheKafka
    registry: ServiceProcess
    reporting: ServiceProcess
    aggregator: ServiceProcess
    tokens: dict[str, str] = field(default_factory=dict)  # unit code -> its token
    leadership: str = ""

    @property
    def services(self) -> dict[str, ServiceProcess]:
        return {"registry": self.registry, "reporting": self.reporting,
                "aggregator": self.aggregator}

    def populate(self, units: int, prefix: str = "xa-tai") -> None:
        """Units of the campaign with a token each, and a leadership token, once reporting
        and the aggregator know them."""
        admin = self.registry.admin()
        for n in range(units):
            code = f"{prefix}-{n:03d}"
            admin.post("/v1/units", json={"code": code, "name": f"Xã Tải {n:03d}",
                                          "kind": "commune", "active_from": "2025-07-01"}
                       ).raise_for_status()
            self.tokens[code] = admin.post("/v1/credentials", json={
                "scope": "unit", "unit_code": code, "label": "cán bộ"}).json()["token"]
        self.leadership = admin.post("/v1/credentials", json={
            "scope": "leadership", "label": "Lãnh đạo Sở"}).json()["token"]
        with self.reporting.client() as reporting:
            for token in self.tokens.values():
                _until(partial(_known, reporting, token), 30, "reporting knows every token")
        with self.aggregator.client(self.leadership) as aggregator:
            _until(lambda: aggregator.get("/v1/progress", params={
                "campaign": CAMPAIGN, "period": PERIODS[0]}).status_code == 200, 30,
                "the aggregator knows the leadership token")

    def units(self) -> list[str]:
        """Every unit the registry has (all of them expected to report)."""
        with self.registry.admin() as admin:
            page = admin.get("/v1/units", params={"limit": 1000}).json()
        return sorted(u["code"] for u in page["items"])


def _known(reporting: httpx.Client, token: str) -> bool:
    return submit(reporting, token, {}).status_code == 422  # known, and the body refused


def submit(reporting: httpx.Client, token: str, body: Any) -> httpx.Response:
    """POST a report with a client of reporting's (a client made per request spends a
    tenth of a second and more on a busy machine, loading certificates it never uses)."""
    return reporting.post("/v1/reports", content=json.dumps(body).encode(), headers={
        "authorization": f"Bearer {token}", "content-type": "application/json"})


def _until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise TimeoutError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


@dataclass
class Outcome:
    """A fault and what followed: each service's seconds from the fault's end (the process
    started again, the broker answering again) until its /readyz answered 200."""

    fault: str
    began: float
    ended: float
    ready_after: dict[str, float]
    broker: bool = False  # a fault of the broker's: every service ready within 10 s

    @property
    def slowest(self) -> float:
        return max(self.ready_after.values())


class Faults:
    """Faults in the stack, one at a time, each timed until every service is ready again."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.done: list[Outcome] = []

    def kill(self, name: str) -> Outcome:
        """SIGKILL a service, and start it again on its port and database."""
        service = self.stack.services[name]
        began = time.monotonic()
        service.kill()
        restarted = time.monotonic()
        with ThreadPoolExecutor(1) as pool:  # every service asked from the restart on
            starting = pool.submit(service.start, wait="/healthz", timeout=60)
            outcome = self._record(f"SIGKILL {name}", began, restarted)
            starting.result()
        return outcome

    def kill_relay(self, name: str) -> Outcome:
        """SIGKILL a service's outbox relay; the service starts another."""
        service = self.stack.services[name]
        [pid] = relays_of(service)
        began = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _until(lambda: relays_of(service) not in ([], [pid]), 30, f"{name} starts a new relay")
        return self._record(f"SIGKILL {name}'s relay", began, began)

    def kill_broker(self) -> Outcome:
        """SIGKILL the broker, and start it again on its port (Tansu comes back empty)."""
        broker = self.stack.broker
        began = time.monotonic()
        os.killpg(broker.process.pid, signal.SIGKILL)  # deploy.brokers stops with SIGTERM
        broker.process.wait()
        broker.start()
        return self._record("SIGKILL the broker", began, time.monotonic(), broker=True)

    def stop_broker(self, down: float) -> Outcome:
        """Stop the broker, keep it down `down` seconds, start it again."""
        broker = self.stack.broker
        began = time.monotonic()
        broker.stop()
        time.sleep(max(0.0, down - (time.monotonic() - began)))
        broker.start()
        return self._record(f"broker stopped {down:.0f} s", began, time.monotonic(),
                            broker=True)

    def _record(self, fault: str, began: float, ended: float, broker: bool = False
                ) -> Outcome:
        outcome = Outcome(fault, began, ended, ready_since(self.stack.services, ended), broker)
        self.done.append(outcome)
        return outcome


def relays_of(service: ServiceProcess) -> list[int]:
    """The pids of a service's outbox relay processes (one, unless it is being replaced)."""
    return [pid for pid in service.children()
            if any(arg.endswith(".relay") for arg in command_of(pid))]


def ready_since(services: dict[str, ServiceProcess], since: float,
                patience: float = 60) -> dict[str, float]:
    """Seconds from `since` until each service answered /readyz 200 (inf if not within
    `patience`), all asked at once, every tenth of a second."""
    found: dict[str, float] = {}
    clients = {name: service.client() for name, service in services.items()}
    with ThreadPoolExecutor(len(services)) as pool:
        while len(found) < len(services) and time.monotonic() - since < patience:
            waiting = [n for n in services if n not in found]
            for name, ready in zip(waiting, pool.map(lambda n: is_ready(clients[n]), waiting),
                                   strict=True):
                if ready is not None:
                    found[name] = ready - since
            time.sleep(0.1)
    for client in clients.values():
        client.close()
    return {name: found.get(name, math.inf) for name in services}


def is_ready(client: httpx.Client) -> float | None:
    """When the service's /readyz answered 200, or None."""
    try:
        if client.get("/readyz", timeout=2).status_code == 200:
            return time.monotonic()
    except httpx.TransportError:
        pass
    return None


def revocation(stack: Stack, unit: str, patience: float = 10) -> float:
    """Seconds from the registry's 2xx to a revocation until reporting refuses the token
    (401): a new credential of `unit` is issued, taken by reporting, then revoked."""
    with stack.registry.admin() as admin, stack.reporting.client() as reporting:
        issued = admin.post("/v1/credentials", json={"scope": "unit", "unit_code": unit,
                                                     "label": "revoked under load"}).json()
        _until(partial(_known, reporting, issued["token"]), 30,
               "reporting takes the new credential")
        admin.post(f"/v1/credentials/{issued['id']}/revoke").raise_for_status()
        answered = time.monotonic()
        while submit(reporting, issued["token"], {}).status_code != 401:
            if time.monotonic() - answered > patience:
                return math.inf
            time.sleep(0.01)
        return time.monotonic() - answered


class Watch:
    """Asks every service's /readyz four times a second, and samples its memory and its
    relay's, each service in a thread of its own, until stopped."""

    def __init__(self, services: dict[str, ServiceProcess], every: float = 0.25) -> None:
        self._services, self._every = services, every
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(name,), daemon=True)
                         for name in services]
        self.down: dict[str, list[tuple[float, float]]] = {n: [] for n in services}
        self.peak: Counter[str] = Counter()  # "registry", "registry relay", ...: bytes

    def start(self) -> "Watch":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(10)

    def longest_down(self) -> tuple[str, float, float]:
        """The longest time a service was not ready: (service, seconds, when it began)."""
        spans = [(name, end - start, start) for name, found in self.down.items()
                 for start, end in found]
        return max(spans, key=lambda s: s[1], default=("none", 0.0, 0.0))

    def _watch(self, name: str) -> None:
        service, since = self._services[name], None
        client = service.client()
        while not self._stopping.wait(self._every):
            self._sample(name, service)
            now = time.monotonic()
            if is_ready(client) is None:
                since = since or now
            elif since is not None:
                self.down[name].append((since, now))
                since = None
        if since is not None:
            self.down[name].append((since, time.monotonic()))
        client.close()

    def _sample(self, name: str, service: ServiceProcess) -> None:
        if service.process is None:
            return
        own = resident_bytes(service.process.pid)
        relay = sum(resident_bytes(pid) for pid in children_of(service.process.pid))
        self.peak[name] = max(self.peak[name], own)
        self.peak[f"{name} relay"] = max(self.peak[f"{name} relay"], relay)


# --- the ground truth and the verdict ----------------------------------------------------


def totals(bodies: Iterable[dict[str, Any]]) -> Figures:
    """What the aggregator's totals must say of these reports (TotalsPublic's shape)."""
    by: dict[str, Counter[str]] = {name: Counter() for name in ("activity_kind", *DETAILS)}
    people = shares = 0
    for body in bodies:
        for line in body["activities"]:
            kind = line["kind"]
            count = line.get("count", sum(line.get("daily_counts", {}).values()))
            by["activity_kind"][kind] += count
            for name in DETAILS:
                if line.get(name):
                    by[name][f"{kind}:{line[name]}"] += count
            people += line.get("people_mobilised", 0)
            shares += line.get("shares", 0)
    return {f"by_{name}": dict(counter) for name, counter in by.items()} | {
        "people_mobilised": people, "shares": shares}


class Truth:
    """What the receipts say: each unit's standing report per period is the highest
    version intake answered 2xx for."""

    def __init__(self, accepted: Iterable[Accepted], units: list[str]) -> None:
        self.units = units
        groups: dict[Key, list[Accepted]] = defaultdict(list)
        for one in accepted:
            groups[one.key].append(one)
        self.versions = {key: sorted(a.version for a in group) for key, group in groups.items()}
        self.standing = {key: max(group, key=lambda a: a.version)
                         for key, group in groups.items()}

    def gaps(self) -> dict[Key, list[int]]:
        """Unit and period whose receipts' versions are not 1, 2, ... n: one given twice,
        or one stored whose receipt never came."""
        return {key: versions for key, versions in self.versions.items()
                if versions != list(range(1, len(versions) + 1))}

    def period(self, period: str) -> Figures:
        standing = [a for (_, p), a in self.standing.items() if p == period]
        return {"expected": len(self.units), "reported": len(standing),
                "on_time": sum(bool(a.receipt["on_time"]) for a in standing),
                "totals": totals(a.body for a in standing)}


def live(aggregator: ServiceProcess, token: str, period: str) -> Figures:
    """The aggregator's figures for a period, in Truth.period's shape."""
    response = aggregator.client(token).get("/v1/progress", params={
        "campaign": CAMPAIGN, "period": period})
    response.raise_for_status()
    body = response.json()
    city = body["city"]
    return {"expected": city["expected"], "reported": city["reported"],
            "on_time": city["on_time"], "totals": body["totals"]}


@dataclass
class Findings:
    """The verdict on a run."""

    accepted: int = 0  # reports with a 2xx receipt
    stored: int = 0  # reports reporting lists
    published: int = 0  # stored reports found on the report topic
    duplicates: int = 0  # records on the topic beyond one per report (at least once)
    standing: int = 0  # (unit, period) with a standing report, by the receipts
    counted: int = 0  # of them, held by the aggregator at that version with its figures
    rebuild: str = ""  # what the rebuild printed
    lost: list[str] = field(default_factory=list)
    counted_twice: list[tuple[int, str]] = field(default_factory=list)  # (how many, where)
    wrong: list[str] = field(default_factory=list)  # any other figure that differs
    periods: dict[str, dict[str, Figures]] = field(default_factory=dict)  # truth/live/rebuilt

    @property
    def twice(self) -> int:
        return sum(count for count, _ in self.counted_twice)

    def problems(self, most: int = 10) -> list[str]:
        """The first few of each kind of problem, a line each."""
        twice = [f"{where} ({count})" for count, where in self.counted_twice]
        return [f"  {what}: {entry}" for what, entries in (
            ("lost", self.lost), ("counted twice", twice), ("differs", self.wrong))
            for entry in entries[:most]]


def verify(stack: Stack, load: Load, rebuilt_database: str, *, settle: float = 90
           ) -> Findings:
    """Judge a run once the load has stopped; `rebuilt_database` is a fresh database for
    the rebuild. The live aggregator is stopped (as a rebuild wants) and not started again."""
    found = Findings(accepted=len(load.accepted))
    truth = Truth(load.accepted, stack.units())
    found.standing = len(truth.standing)
    found.wrong += [f"{unit} {period}: receipts of versions {versions}"
                    for (unit, period), versions in truth.gaps().items()]
    stored = _stored(stack)
    _check_stored(found, load, stored)
    _check_topic(found, stack, stored, settle)
    _check_periods(found, stack, truth, settle)
    _check_units(found, stack, truth)
    _check_rebuild(found, stack, rebuilt_database)
    return found


def _stored(stack: Stack) -> dict[tuple[str, str], int]:
    """Every report reporting has stored, page by page: (unit, report id) -> version."""
    found: dict[tuple[str, str], int] = {}
    client = stack.reporting.client(stack.leadership)
    offset = 0
    while True:
        page = client.get("/v1/reports", params={"limit": 500, "offset": offset}).json()
        found |= {(r["unit"], r["report_id"]): r["version"] for r in page["items"]}
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return found


def _check_stored(found: Findings, load: Load, stored: dict[tuple[str, str], int]) -> None:
    found.stored = len(stored)
    receipts = {(a.unit, a.receipt["report_id"]): a.version for a in load.accepted}
    found.lost += [f"{u} {r}: accepted, not stored" for u, r in sorted(receipts.keys()
                                                                          - stored.keys())]
    found.wrong += [f"{u} {r}: stored with no receipt" for u, r in sorted(stored.keys()
                                                                             - receipts.keys())]
    found.wrong += [f"{u} {r}: stored as version {stored[u, r]}, receipt says {v}"
                    for (u, r), v in sorted(receipts.items()) if stored.get((u, r), v) != v]


def _check_topic(found: Findings, stack: Stack, stored: dict[tuple[str, str], int],
                 settle: float) -> None:
    reader = TopicReader(stack.broker.bootstrap)
    on_topic: set[tuple[str, str]] = set()
    records = 0
    deadline = time.monotonic() + settle
    while True:  # a broker may report an end short: read again until all is there
        read = [r for r in reader.read_all(REPORTS.name, timeout=30) if r.value]
        records = max(records, len(read))
        on_topic |= {(r.key, r.value["report_id"]) for r in read if r.value}
        if stored.keys() <= on_topic or time.monotonic() > deadline:
            break
        time.sleep(1)
    found.published = len(stored.keys() & on_topic)
    found.duplicates = records - len(on_topic)
    found.lost += [f"{u} {r}: stored, not on {REPORTS.name}"
                   for u, r in sorted(stored.keys() - on_topic)]
    found.wrong += [f"{u} {r}: on the topic, not stored" for u, r in sorted(on_topic
                                                                            - stored.keys())]


def _check_periods(found: Findings, stack: Stack, truth: Truth, settle: float) -> None:
    expected = {period: truth.period(period) for period in PERIODS}
    deadline = time.monotonic() + settle
    while True:
        figures = {p: live(stack.aggregator, stack.leadership, p) for p in PERIODS}
        if figures == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for period in PERIODS:
        found.periods[period] = {"truth": expected[period], "live": figures[period]}
        twice = figures[period]["reported"] - expected[period]["reported"]
        if twice > 0:
            found.counted_twice.append((twice, f"{period}: units counted beyond those that "
                                               "reported"))
        for name, value in _differences(expected[period], figures[period]):
            found.wrong.append(f"{period} {name}: live {value[1]}, truth {value[0]}")


def _differences(truth: Figures, other: Figures, prefix: str = "") -> list[tuple[str, Any]]:
    """The leaves where two figures differ: (path, (truth's, other's))."""
    found = []
    for name in sorted(truth.keys() | other.keys()):
        one, two = truth.get(name), other.get(name)
        if isinstance(one, dict) and isinstance(two, dict):
            found += _differences(one, two, f"{prefix}{name}.")
        elif one != two:
            found.append((f"{prefix}{name}", (one, two)))
    return found


def _check_units(found: Findings, stack: Stack, truth: Truth) -> None:
    """Each unit's standing report per period, at the aggregator, against the receipts."""
    client = stack.aggregator.client(stack.leadership)
    for unit in truth.units:
        response = client.get(f"/v1/progress/units/{unit}", params={"campaign": CAMPAIGN})
        response.raise_for_status()
        held = {p["period"]: p for p in response.json()["periods"]}
        for period in PERIODS:
            want, have = truth.standing.get((unit, period)), held.get(period)
            _judge_unit(found, f"{unit} {period}", want, have)


def _judge_unit(found: Findings, where: str, want: Accepted | None,
                have: dict[str, Any] | None) -> None:
    if want is None:
        if have is not None:
            found.wrong.append(f"{where}: counted with no report accepted")
        return
    if have is None or have["version"] < want.version:
        found.lost.append(f"{where}: version {want.version} not counted "
                          f"({'nothing' if have is None else have['version']} instead)")
    elif have["version"] > want.version or have["report_id"] != want.receipt["report_id"]:
        found.wrong.append(f"{where}: counts {have['report_id']} v{have['version']}, "
                           f"not {want.receipt['report_id']} v{want.version}")
    elif have["totals"] != (own := totals([want.body])):
        if sum(have["totals"]["by_activity_kind"].values()) > sum(
                own["by_activity_kind"].values()):
            found.counted_twice.append((1, f"{where}: counts more than its standing report"))
        else:
            found.wrong.append(f"{where}: totals differ from its standing report")
    else:
        found.counted += 1


def _check_rebuild(found: Findings, stack: Stack, database: str) -> None:
    """Stop the aggregator, rebuild into a fresh database, serve that, compare figures."""
    aggregator = stack.aggregator
    aggregator.stop()
    env = os.environ | aggregator.env | {"AGGREGATOR_DATABASE_URL": database}
    done = subprocess.run([sys.executable, "-m", "services.aggregator.rebuild"], env=env,
                          capture_output=True, text=True, timeout=300)
    found.rebuild = (done.stdout.strip().splitlines() or [done.stderr.strip()[-500:]])[-1]
    if done.returncode != 0:
        found.wrong.append(f"rebuild exited {done.returncode}: {found.rebuild}")
        return
    rebuilt = dataclasses.replace(
        aggregator, env=aggregator.env | {"AGGREGATOR_DATABASE_URL": database}, process=None,
        log_path=aggregator.log_path.with_name(f"rebuilt-{aggregator.log_path.name}"))
    rebuilt.start(timeout=60)
    try:
        for period, seen in found.periods.items():
            seen["rebuilt"] = live(rebuilt, stack.leadership, period)
            found.wrong += [f"{period} {name}: rebuilt {value[1]}, live {value[0]}"
                            for name, value in _differences(seen["live"], seen["rebuilt"])]
    finally:
        rebuilt.stop()


# --- the figures, printed ----------------------------------------------------------------


def table(title: str, load: Load, found: Findings, faults: list[Outcome],
          revocations: list[float], watch: Watch | None = None,
          phases: dict[str, float] | None = None) -> str:
    """The run's figures, compact, for a terminal."""
    lines = [title,
             f"  load: {load.sent:,} reports in {load.seconds:.0f} s "
             f"({load.sent / max(load.seconds, 1e-9):.1f}/s) from {load.units} units over "
             f"{len(PERIODS)} periods; tries retried {sum(load.retried.values())} "
             f"({_counts(load.retried)}), retries found stored {load.replayed}, refused "
             f"{sum(load.refused.values())} ({_counts(load.refused)})",
             f"  accepted {found.accepted:,} · stored {found.stored:,} · on the topic "
             f"{found.published:,} (+{found.duplicates:,} duplicates) · standing "
             f"{found.standing} unit-periods, counted {found.counted} · lost {len(found.lost)} "
             f"· counted twice {found.twice} · other differences {len(found.wrong)}",
             f"  rebuild: {found.rebuild}",
             f"  {'period':<9} {'expected':>8} {'reported':>8} {'on time':>7} "
             f"{'activities':>10} {'people':>7} {'shares':>8}   live = truth = rebuilt"]
    for period, seen in found.periods.items():
        figures = seen["live"]
        same = all(seen.get(k) == figures for k in ("truth", "rebuilt"))
        lines.append(f"  {period:<9} {figures['expected']:>8} {figures['reported']:>8} "
                     f"{figures['on_time']:>7} "
                     f"{sum(figures['totals']['by_activity_kind'].values()):>10,} "
                     f"{figures['totals']['people_mobilised']:>7,} "
                     f"{figures['totals']['shares']:>8,}   {'yes' if same else 'NO'}")
    lines.append(f"  {'fault':<26} each service ready after (s, from the process's or the "
                 "broker's start)")
    for outcome in faults:
        lines.append(f"  {outcome.fault:<26} " + "  ".join(
            f"{name} {seconds:.1f}" for name, seconds in outcome.ready_after.items())
            + (f"   (broker back {outcome.ended - outcome.began:.1f} s after it went)"
               if outcome.broker else ""))
    if revocations:
        lines.append("  revoked credential refused after: "
                     + ", ".join(f"{seconds:.2f} s" for seconds in revocations))
    if watch is not None:
        name, seconds, began = watch.longest_down()
        during = next((o.fault for o in faults if o.began - 1 <= began <= o.ended + o.slowest),
                      "no fault")
        lines.append(f"  longest not ready: {name} {seconds:.1f} s (during: {during}); "
                     "peak memory: " + ", ".join(f"{n} {b / 2**20:.0f} MB"
                                                 for n, b in sorted(watch.peak.items())))
    if phases:
        lines.append("  took: " + ", ".join(f"{name} {seconds:.0f} s"
                                            for name, seconds in phases.items()))
    return "\n".join(lines + found.problems())


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counter.most_common()) or "none"
