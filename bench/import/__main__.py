"""bench/import: a large unit import, its time, the registry's memory, other writes meanwhile.

One registry process on SQLite (and its outbox relay, a process of its own, publishing to the
embedded Tansu broker) is sent a CSV of N generated units (100,000 by default: Vietnamese
names with their diacritics, kinds, codes for some, admin codes, contacts). While it imports,
the bench samples the registry's resident memory from /proc every 20 ms (and reads the
kernel's own peak, VmHWM), and another client registers one unit at a time (POST /v1/units)
to time a small write that has to wait for its turn. Printed: rows, seconds (the upload, the
checking and the writing passes), rows/s, the registry's peak RSS against its idle RSS
before the import, the small writes' p50 and max, and when the relay had published every
snapshot. Run: `.venv/bin/python -m bench.import [--rows 100000]`.
"""

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.brokers import free_port, launch
from deploy.topology import SERVICES, service_env

from .rows import csv_bytes  # relative: `import` is a keyword, `bench.import.rows` no name

SAMPLE_SECONDS = 0.02
WRITE_EVERY = 0.2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    body = csv_bytes(args.rows)
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    broker = launch("tansu", workdir=work / "broker")
    try:
        process, url, admin = _start(work, broker.bootstrap)
        try:
            _print(args.rows, body, _measure(process.pid, url, admin, body))
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        broker.stop()


def _start(work: Path, bootstrap: str) -> tuple[subprocess.Popen[bytes], str, str]:
    service = next(s for s in SERVICES if s.name == "registry")
    port, admin = free_port(), secrets.token_urlsafe(32)
    env = service_env(service, port=port, bootstrap=bootstrap, idempotence=False,
                      database_url=f"sqlite:///{work / 'registry.db'}", admin_token=admin)
    env["REGISTRY_LOG_LEVEL"] = "WARNING"
    log = (work / "registry.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", service.module], stdout=log,
                               stderr=subprocess.STDOUT, env=os.environ | env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return process, url, admin
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the registry did not start; see {work / 'registry.log'}")


@dataclass
class Memory:
    """The largest resident set seen of a process, sampled until stopped."""

    pid: int
    peak: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _status(self.pid, "VmRSS"))


@dataclass
class Writes:
    """One small registry write after another, timed, until stopped."""

    url: str
    admin: str
    seconds: list[float] = field(default_factory=list)
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        client = httpx.Client(base_url=self.url, timeout=120,
                              headers={"authorization": f"Bearer {self.admin}"})
        while not self.stop.wait(WRITE_EVERY):
            number = len(self.seconds) + self.failed
            started = time.monotonic()
            answer = client.post("/v1/units", json={
                "code": f"so-thu-nghiem-{number}", "name": f"Sở Thử nghiệm số {number}",
                "kind": "department", "active_from": "2025-07-01"})
            if answer.status_code == 201:
                self.seconds.append(time.monotonic() - started)
            else:
                self.failed += 1


def _measure(pid: int, url: str, admin: str, body: bytes) -> dict[str, float]:
    time.sleep(2)  # idle: started, republished, relay connected
    idle = _status(pid, "VmRSS")
    memory, writes = Memory(pid), Writes(url, admin)
    threads = [threading.Thread(target=part.run, daemon=True) for part in (memory, writes)]
    for thread in threads:
        thread.start()
    client = httpx.Client(base_url=url, timeout=600,
                          headers={"authorization": f"Bearer {admin}"})
    started = time.monotonic()
    accepted = client.post("/v1/units/import?active_from=2025-07-01", content=body,
                           headers={"content-type": "text/csv"})
    assert accepted.status_code == 202, accepted.text
    uploaded = time.monotonic()
    phases = _follow(client, accepted.headers["location"])
    for part in (memory, writes):
        part.stop.set()
    published = _published(client, phases["rows"] + len(writes.seconds), started)
    return phases | {"uploaded": uploaded - started, "started": started, "idle": idle,
                     "peak": memory.peak, "hwm": _status(pid, "VmHWM"),
                     "published": published, "writes": len(writes.seconds),
                     "write_failed": writes.failed,
                     "write_p50": statistics.median(writes.seconds or [0.0]),
                     "write_max": max(writes.seconds or [0.0])}


def _follow(client: httpx.Client, where: str) -> dict[str, float]:
    """Poll the job until it ends; when its writing began and when it finished."""
    writing = 0.0
    while True:
        job = client.get(where).json()
        if job["state"] == "writing" and not writing:
            writing = time.monotonic()
        if job["state"] not in ("checking", "writing"):
            break
        time.sleep(0.1)
    assert job["state"] == "done", job
    report = job["report"]
    return {"writing": writing or time.monotonic(), "done": time.monotonic(),
            "rows": job["progress"]["rows_total"], "created": report["created"],
            "rejected": report["rejected"]}


def _published(client: httpx.Client, events: float, started: float) -> float:
    """Seconds from the upload's start until the relay had published `events` units."""
    while True:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith('messages_published_total{topic="registry.units.v1"}'):
                if float(line.split()[-1]) >= events:
                    return time.monotonic() - started
        time.sleep(0.2)


def _status(pid: int, name: str) -> int:
    """A field of /proc/<pid>/status in bytes (VmRSS, VmHWM: given in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(name)


def _print(count: int, body: bytes, m: dict[str, float]) -> None:
    total = m["done"] - m["started"]
    mb = 1024 * 1024
    print(f"bench/import: {count:,} generated units ({len(body) / mb:.1f} MB of CSV) into one "
          "registry process on SQLite, relay publishing to Tansu")
    print(f"  rows           {m['rows']:,.0f} (created {m['created']:,.0f}, "
          f"rejected {m['rejected']:,.0f})")
    print(f"  seconds        {total:.1f} (upload {m['uploaded']:.1f}, checking "
          f"{m['writing'] - m['started'] - m['uploaded']:.1f}, writing "
          f"{m['done'] - m['writing']:.1f})")
    print(f"  rows/s         {m['rows'] / total:,.0f}")
    print(f"  registry RSS   idle {m['idle'] / mb:.0f} MB before the import, peak "
          f"{m['peak'] / mb:.0f} MB during it (kernel's VmHWM {m['hwm'] / mb:.0f} MB)")
    print(f"  a small write meanwhile (POST /v1/units, one every {WRITE_EVERY} s): "
          f"{m['writes']:.0f} done, p50 {m['write_p50'] * 1000:.0f} ms, max "
          f"{m['write_max'] * 1000:.0f} ms, {m['write_failed']:.0f} failed")
    print(f"  published      every unit's snapshot on registry.units.v1 "
          f"{m['published']:.1f} s after the upload began")


if __name__ == "__main__":
    main()
