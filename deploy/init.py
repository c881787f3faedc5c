"""`python -m deploy.init schema|units`: a deployment's one-shot jobs (docker-compose.yml's
`init` and `setup`).

- `schema`, before any service starts: creates every topic of the contract with its
  partitions and configs, and brings each data service's database to its newest revision,
  so that two processes of a scaled-out service never migrate one database at once.
- `units`, once the registry is ready: loads the reference units (deploy/reference; loading
  them again changes nothing) and issues the first leadership token, printed once: when a
  leadership token is already live it issues none.

Its settings are environment variables: `INIT_KAFKA_BOOTSTRAP`, `INIT_<SERVICE>_DATABASE_URL`
for each data service, `INIT_REGISTRY_URL` and `INIT_ADMIN_TOKEN` (the registry's).
"""

import asyncio
import importlib
import json
import os
import sys
import time
from pathlib import Path

from deploy.local import UNITS_CSV, call, import_units
from deploy.topology import DATA_SERVICES
from services import database
from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import TOPICS

PREFIX = "INIT_"
FIRST_LEADER = "lãnh đạo Sở (first token, deploy.init)"


def _setting(name: str) -> str:
    value = os.environ.get(PREFIX + name)
    if not value:
        raise SystemExit(f"{PREFIX}{name} is not set")
    return value


def schema() -> None:
    bootstrap = _setting("KAFKA_BOOTSTRAP")
    settings = ServiceSettings(port=1, database_url="sqlite://", kafka_bootstrap=bootstrap,
                               kafka_idempotence=False)
    asyncio.run(ensure_topics(settings, TOPICS))
    print(f"topics: {', '.join(f'{t.name} ({t.partitions})' for t in TOPICS)}", flush=True)
    for service in DATA_SERVICES:
        url = _setting(f"{service.prefix}_DATABASE_URL")
        migrations: Path = importlib.import_module(f"{service.module}.migrations").MIGRATIONS
        engine = database.make_engine(url)
        try:
            database.migrate(engine, migrations)
        finally:
            engine.dispose()
        print(f"{service.name}: database at its newest revision", flush=True)


def units(timeout: float = 300) -> None:
    registry, admin = _setting("REGISTRY_URL").rstrip("/"), _setting("ADMIN_TOKEN")
    deadline = time.monotonic() + timeout
    while call("GET", f"{registry}/readyz")[0] != 200:
        if time.monotonic() > deadline:
            raise SystemExit(f"the registry at {registry} did not become ready")
        time.sleep(2)
    report = import_units(f"{registry}/v1", admin, UNITS_CSV)
    print(f"units: {report['created']} created, {report['updated']} updated, "
          f"{report['unchanged']} unchanged", flush=True)
    status, page = call("GET", f"{registry}/v1/credentials", admin)
    if status != 200:
        raise SystemExit(f"listing the credentials failed ({status}): {page}")
    if any(c["scope"] == "leadership" and c["revoked_at"] is None for c in page["items"]):
        print("a leadership token is live already: none issued", flush=True)
        return
    status, issued = call("POST", f"{registry}/v1/credentials", admin, json.dumps(
        {"scope": "leadership", "label": FIRST_LEADER}).encode())
    if status != 201:
        raise SystemExit(f"issuing the leadership token failed ({status}): {issued}")
    print(f"leadership token (shown once; keep it safe): {issued['token']}", flush=True)


if __name__ == "__main__":
    jobs = {"schema": schema, "units": units}
    if len(sys.argv) != 2 or sys.argv[1] not in jobs:
        raise SystemExit("usage: python -m deploy.init schema|units")
    jobs[sys.argv[1]]()
