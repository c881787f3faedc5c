"""bench/portal: the leadership's period page and the campaign overview, at 114 and 5,000
units: p50 and p95 server time and the page's weight.

For each size, a real stack on the embedded broker and SQLite (registry, intake, aggregator,
portal): the units imported as a CSV (70% communes and wards, the rest departments), a token
for each unit in one call (the registry's batch), and a report for 2026-W04 from 85% of them
through intake, 32 at a time; once the aggregator has folded them all, a leader signs in to
the portal, and each page is read `--requests` times by one reader, then by 8 at once. Server
time is the portal's whole answer as a client on this machine sees it (with the calls it makes
to the services behind it); weight is the HTML as sent (gzip, as a browser asks) and as
read, with the page's style sheet and script.

Run: `.venv/bin/python -m bench.portal [--units 114 5000] [--requests 100]`.
"""

import argparse
import asyncio
import csv
import io
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.intake import _wait
from deploy.brokers import free_port, launch
from deploy.topology import SERVICES, service_env

PERIOD = "2026-W04"
PAGES = {"period page": f"/lanh-dao/ky/{PERIOD}", "overview": "/lanh-dao"}
TARGET_MS, TARGET_KB = 150, 300


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, nargs="+", default=[114, 5000])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    results = {count: measure(count, args.requests) for count in args.units}
    print(f"\nbench/portal: {args.requests} requests a page and reader count; "
          "p50 / p95 ms; weight KB gzip (HTML as read; with CSS and JS)")
    print(f"{'units':>6} {'page':<12} {'1 reader':>16} {'8 readers':>16} {'weight':>26}")
    for count, pages in results.items():
        for name, found in pages.items():
            print(f"{count:>6} {name:<12} {found['p50_1']:>7.1f} / {found['p95_1']:>6.1f} "
                  f"{found['p50_8']:>7.1f} / {found['p95_8']:>6.1f} "
                  f"{found['gzip'] / 1024:>7.1f} ({found['raw'] / 1024:.1f}; "
                  f"{found['with_assets'] / 1024:.1f})")
    largest = max(results)
    print(f"\ntargets at {largest} units: p95 under {TARGET_MS} ms, a page under {TARGET_KB} KB")
    for name, found in results[largest].items():
        one, eight = found["p95_1"], found["p95_8"]
        print(f"  {name}: p95 {one:.1f} ms a request ({_met(one < TARGET_MS)}), "
              f"{eight:.1f} ms with 8 readers at once ({_met(eight < TARGET_MS)}); "
              f"{found['raw'] / 1024:.1f} KB as read ({_met(found['raw'] / 1024 < TARGET_KB)})")
    print(f"  (this machine: {os.cpu_count()} cores, shared by the five processes and the "
          "readers; with 8 readers a request mostly waits its turn)")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def measure(count: int, requests: int) -> dict[str, dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-portal-{count}-"))
    broker = launch("tansu", workdir=work / "broker")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        urls, admin = {}, secrets.token_urlsafe(32)
        for name in ("registry", "reporting", "aggregator"):
            urls[name] = _start(processes, work, name, broker.bootstrap, admin, {})
        leader = _load(urls, admin, count)
        urls["portal"] = _start(processes, work, "portal", broker.bootstrap, admin, urls)
        cookies = _sign_in(urls["portal"], leader)
        assets = sum(len(httpx.get(urls["portal"] + path).content)
                     for path in ("/static/portal.css", "/static/portal.js"))
        found = {}
        for name, path in PAGES.items():
            url = urls["portal"] + path
            page = httpx.get(url, cookies=cookies, headers={"accept-encoding": "identity"})
            assert page.status_code == 200, page.text[:500]
            sent = httpx.get(url, cookies=cookies)  # gzip, as a browser asks
            gzipped = int(sent.headers.get("content-length") or len(sent.content))
            one = asyncio.run(_read(url, cookies, requests, 1))
            eight = asyncio.run(_read(url, cookies, requests, 8))
            found[name] = {"p50_1": _quantile(one, 0.5), "p95_1": _quantile(one, 0.95),
                           "p50_8": _quantile(eight, 0.5), "p95_8": _quantile(eight, 0.95),
                           "raw": len(page.content), "gzip": gzipped,
                           "with_assets": len(page.content) + assets}
            print(f"{count} units, {name}: {found[name]}", file=sys.stderr)
        return found
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        broker.stop()


def _start(processes: list[subprocess.Popen[bytes]], work: Path, name: str, bootstrap: str,
           admin: str, urls: dict[str, str]) -> str:
    service = next(s for s in SERVICES if s.name == name)
    port = free_port()
    env = service_env(service, port=port, bootstrap=bootstrap, idempotence=False,
                      database_url=f"sqlite:///{work / name}.db", admin_token=admin,
                      urls=urls if service.calls else None)
    env[f"{service.prefix}_LOG_LEVEL"] = "WARNING"
    log = (work / f"{name}.log").open("ab")
    processes.append(subprocess.Popen([sys.executable, "-m", service.module], stdout=log,
                                      stderr=subprocess.STDOUT, env=os.environ | env))
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/readyz", timeout=120)
    return url


def _load(urls: dict[str, str], admin: str, count: int) -> str:
    """The units, their tokens and 85% of them reported; the leader's token."""
    registry = httpx.Client(base_url=urls["registry"], timeout=300,
                            headers={"authorization": f"Bearer {admin}"})
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["code", "name", "kind", "active_from"])
    for n in range(count):
        kind = ("commune", "ward", "department")[0 if n % 10 < 5 else 1 if n % 10 < 7 else 2]
        writer.writerow([f"dv-{n:05d}", f"Đơn vị Thử {n:05d}", kind, "2025-07-01"])
    imported = registry.post("/v1/units/import", content=rows.getvalue().encode(),
                             headers={"content-type": "text/csv"})
    assert imported.status_code in (200, 202), imported.text
    _until(lambda: registry.get("/v1/units", params={"limit": 1}).json()["total"] >= count)
    reporting = [f"dv-{n:05d}" for n in range(count) if n % 20 < 17]
    issued = registry.post("/v1/credentials/batch", json={"unit_codes": reporting,
                                                          "label": "bench"})
    assert issued.status_code == 201, issued.text
    tokens = [c["token"] for c in issued.json()["items"]]
    leader = registry.post("/v1/credentials", json={"scope": "leadership",
                                                    "label": "bench"}).json()["token"]
    asyncio.run(_submit(urls["reporting"], tokens))
    aggregator = httpx.Client(base_url=urls["aggregator"], timeout=60,
                              headers={"authorization": f"Bearer {leader}"})
    _until(lambda: aggregator.get("/v1/progress", params={
        "campaign": "dai-hoi-xiv", "period": PERIOD}).json().get("city", {}).get(
        "reported") == len(tokens), timeout=300)
    return str(leader)


async def _submit(reporting: str, tokens: list[str]) -> None:
    body = {"campaign": "dai-hoi-xiv", "period": PERIOD, "activities": [
        {"kind": "loudspeaker_broadcast", "daily_counts": {"2026-01-19": 2, "2026-01-20": 1}},
        {"kind": "social_post", "count": 4, "platform": "zalo", "format": "infographic"}]}
    queue = list(tokens)
    async with httpx.AsyncClient(base_url=reporting, timeout=60) as client:
        async def worker() -> None:
            while queue:
                token = queue.pop()
                answer = await client.post("/v1/reports", json=body,
                                           headers={"authorization": f"Bearer {token}"})
                assert answer.status_code == 201, answer.text
        await asyncio.gather(*(worker() for _ in range(32)))


def _sign_in(portal: str, token: str) -> dict[str, str]:
    client = httpx.Client(base_url=portal, timeout=30)
    page = client.get("/dang-nhap")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    answer = client.post("/dang-nhap", data={"csrf": csrf, "token": token})
    assert answer.status_code == 303, answer.text[:300]
    return {"hp_session": client.cookies["hp_session"]}


async def _read(url: str, cookies: dict[str, str], requests: int, readers: int
                ) -> list[float]:
    """Milliseconds of each answer, `readers` at once, after a few unmeasured ones."""
    times: list[float] = []
    async with httpx.AsyncClient(cookies=cookies, timeout=60,
                                 limits=httpx.Limits(max_connections=readers)) as client:
        for _ in range(3):
            (await client.get(url)).raise_for_status()
        left = [requests]

        async def reader() -> None:
            while left[0] > 0:
                left[0] -= 1
                started = time.perf_counter()
                answer = await client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200
        await asyncio.gather(*(reader() for _ in range(readers)))
    return times


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 \
        else values[0]


def _until(condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the stack did not get there in time")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
