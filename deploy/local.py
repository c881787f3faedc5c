"""`python -m deploy.local`: the whole system on one machine, on embedded defaults.

Starts the embedded broker, the five services as separate processes with SQLite files
under one data folder, loads Hai Phong's 114 commune-level units (the `dai-hoi-xiv`
campaign is seeded by the registry itself), issues a demo unit token and a leadership
token, starts a local mail sink (data/mail) for the notifier, prints the URLs, and stops
everything on Ctrl-C or SIGTERM.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from deploy.brokers import BROKERS, ROOT, launch
from deploy.topology import SERVICES, Service, local_urls, service_env

UNITS_CSV = ROOT / "deploy" / "reference" / "haiphong-commune-level-units.csv"  # its README
UNITS_ACTIVE_FROM = "2025-07-01"  # Resolution 1669/NQ-UBTVQH15 took effect on this day
DEMO_UNIT = "phuong-thuy-nguyen"  # or, in another unit list, the first the registry lists
DEMO_MAIL_DOMAIN = "haiphong.gov.vn"  # the demo unit's address: caught by the mail sink
DEPARTMENT_EMAIL = "vanphong@sovhttdl.haiphong.gov.vn"
MAIL_PORT = 1025


def main() -> None:
    args = _arguments()
    data = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    _check_ports_free([s.port for s in SERVICES] + [args.kafka_port, MAIL_PORT])
    broker = launch(args.broker, port=args.kafka_port, workdir=_fresh(data / "broker"))
    children: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        admin = _admin_token(data)
        children.append(_mail_sink(data))
        for service in SERVICES:
            env = service_env(service, port=service.port, bootstrap=broker.bootstrap,
                              database_url=f"sqlite:///{data / (service.name + '.db')}",
                              idempotence=broker.supports_idempotence, admin_token=admin,
                              urls=local_urls())
            if service.name == "notifier":
                env |= _notifier_env(data)
            if service.name == "registry":  # shows units the secrets the notifier signs with
                env["REGISTRY_WEBHOOK_SIGNING_KEY"] = _signing_key(data)
            children.append(_start(service, env, data))
        _wait_ready(SERVICES)
        _print_summary(broker.bootstrap, admin, _load(admin, args.units), data)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a service stopped; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(children)
        broker.stop()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="data folder")
    parser.add_argument("--broker", choices=sorted(BROKERS), default="tansu",
                        help="tansu keeps topics in memory; tansu-durable keeps them in "
                             "data/broker (built once with cargo); kafka runs Apache Kafka")
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--units", type=Path, default=UNITS_CSV, help="units CSV to load")
    return parser.parse_args()


def _check_ports_free(ports: list[int]) -> None:
    for port in ports:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is in use: is the system already running?")


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _admin_token(data: Path) -> str:
    """One admin token per data folder, kept in a file only its owner can read."""
    path = data / "admin-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _mail_sink(data: Path) -> subprocess.Popen[bytes]:
    """The local SMTP server the notifier sends to: every message an .eml file."""
    log = (data / "mailsink.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "deploy.mailsink", "--port", str(MAIL_PORT),
                             "--folder", str(data / "mail")], stdout=log,
                            stderr=subprocess.STDOUT)


def _signing_key(data: Path) -> str:
    """One webhook signing key per data folder, for the registry and the notifier."""
    key = data / "webhook-signing-key"
    if not key.exists():
        key.write_text(secrets.token_urlsafe(48))
        key.chmod(0o600)
    return key.read_text().strip()


def _notifier_env(data: Path) -> dict[str, str]:
    return {"NOTIFIER_SMTP_PORT": str(MAIL_PORT),
            "NOTIFIER_WEBHOOK_SIGNING_KEY": _signing_key(data),
            "NOTIFIER_DEPARTMENT_EMAILS": json.dumps([DEPARTMENT_EMAIL]),
            "NOTIFIER_PORTAL_URL": local_urls()["portal"] + "/"}


def _start(service: Service, env: dict[str, str], data: Path) -> subprocess.Popen[bytes]:
    log = (data / f"{service.name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", service.module], env=os.environ | env,
                            stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(services: tuple[Service, ...], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for service in services:
        while call("GET", f"http://127.0.0.1:{service.port}/readyz")[0] != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"{service.name} did not become ready; see its log")
            time.sleep(0.3)


def _load(admin: str, units_csv: Path) -> dict[str, Any]:
    """Import the units, then issue the demo tokens. The demo unit is Hai Phong's
    `phuong-thuy-nguyen`, or, in another list, the first unit the registry lists (by kind,
    then code: a commune first)."""
    registry = f"http://127.0.0.1:{SERVICES[0].port}/v1"
    report = import_units(registry, admin, units_csv)
    demo_unit = _demo_unit(registry, admin)
    _, demo = call("POST", f"{registry}/credentials", admin,
                   json.dumps({"scope": "unit", "unit_code": demo_unit,
                               "label": "demo token (deploy.local)"}).encode())
    _, leader = call("POST", f"{registry}/credentials", admin,
                     json.dumps({"scope": "leadership", "label": "demo leadership"}).encode())
    status, body = call("PATCH", f"{registry}/units/{demo_unit}", admin,  # for its receipts
                        json.dumps({"contacts": {
                            "email": f"{demo_unit}@{DEMO_MAIL_DOMAIN}"}}).encode())
    if status != 200:
        raise SystemExit(f"giving {demo_unit} an address failed: {body}")
    return {"report": report, "demo": demo, "demo_unit": demo_unit, "leadership": leader}


def import_units(registry: str, admin: str, units_csv: Path) -> dict[str, Any]:
    """Import a unit list as a job (any size: the registry streams it) and wait for its
    report; loading the same list again changes nothing."""
    status, job = call("POST", f"{registry}/units/import?active_from={UNITS_ACTIVE_FROM}",
                       admin, units_csv.read_bytes(), "text/csv", prefer="respond-async")
    while status == 202 or (status == 200 and job["state"] in ("checking", "writing")):
        progress = job["progress"]
        print(f"importing {units_csv.name}: {job['state']}, {progress['rows_checked']} rows "
              f"checked, {progress['rows_written']} written", file=sys.stderr, flush=True)
        time.sleep(1)
        status, job = call("GET", f"{registry}/units/imports/{job['id']}", admin)
    if status != 200 or job["state"] != "done":
        raise SystemExit(f"loading {units_csv} failed: {json.dumps(job, ensure_ascii=False)}")
    return dict(job["report"])


def _demo_unit(registry: str, admin: str) -> str:
    if call("GET", f"{registry}/units/{DEMO_UNIT}", admin)[0] == 200:
        return DEMO_UNIT
    status, page = call("GET", f"{registry}/units?limit=1", admin)
    if status != 200 or not page["items"]:
        raise SystemExit("the unit list holds no unit to give a demo token to")
    return str(page["items"][0]["code"])


def call(method: str, url: str, token: str | None = None, body: bytes | None = None,
          content_type: str = "application/json", prefer: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("content-type", content_type)
    if prefer:
        request.add_header("prefer", prefer)
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, ConnectionError):
        return 0, None


def _print_summary(bootstrap: str, admin: str, loaded: dict[str, Any], data: Path) -> None:
    report = loaded["report"]
    print(f"""
Hai Phong campaign reporting is running (Ctrl-C stops everything).
  broker      {bootstrap} (embedded)
  registry    http://127.0.0.1:8001/docs
  reporting   http://127.0.0.1:8002/healthz
  aggregator  http://127.0.0.1:8003/healthz
  notifier    http://127.0.0.1:8004/docs
  portal      http://127.0.0.1:8005/   (sign in with a token below; Vietnamese, English)
  mail        {data / 'mail'} (every email the notifier sent, as .eml files)
  data        {data} (SQLite files and service logs)
units loaded: {report['created']} created, {report['updated']} updated, \
{report['unchanged']} unchanged; campaign dai-hoi-xiv seeded
admin token       {admin}   (also in {data / 'admin-token'})
leadership token  {loaded['leadership']['token']}
demo unit token   {loaded['demo']['token']}   (unit {loaded['demo_unit']})
try: curl -s -H "Authorization: Bearer {loaded['leadership']['token']}" \\
       "http://127.0.0.1:8001/v1/units?kind=ward&limit=1"
     then submit a report as README.md shows ("Submitting a report")
""", flush=True)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan children
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    main()
