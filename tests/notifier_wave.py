"""A reminder wave of many units, for the notifier's kill test and bench/notifier: a
producer standing in for the registry publishes the campaign and N units (each with an
email address and a webhook URL), the notifier runs as a process with its clock read from a
file, and a real SMTP server and webhook receiver count what arrives, by `Message-ID` and
`webhook-id`."""

import asyncio
import json
import secrets
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer

from deploy.brokers import free_port
from services.bus.kafka import ensure_topics
from services.config import ServiceSettings
from services.events import (
    AGGREGATOR_BREACHES,
    CAMPAIGNS,
    CREDENTIALS,
    REPORTS,
    UNITS,
    CampaignSnapshot,
    UnitSnapshot,
)
from tests.receivers import SmtpServer, WebhookReceiver
from tests.rig import ServiceProcess, make_service

SEED = Path(__file__).resolve().parents[1] / "services" / "registry" / "seed" / "dai-hoi-xiv.json"
HP = ZoneInfo("Asia/Ho_Chi_Minh")
BEFORE_STEP = datetime(2026, 1, 24, 16, 59, tzinfo=HP)  # 2026-W04's first step is at 17:00
STEP = datetime(2026, 1, 24, 17, 0, tzinfo=HP)


def campaign() -> CampaignSnapshot:
    return CampaignSnapshot.model_validate(json.loads(SEED.read_text()) | {
        "revision": 1, "updated_at": "2026-01-01T00:00:00Z"})


def units(count: int, hook: str) -> list[UnitSnapshot]:
    return [UnitSnapshot.model_validate({
        "code": f"xa-{n:05d}", "name": f"Xã Thử Nghiệm {n}", "kind": "commune",
        "contacts": {"email": f"xa-{n:05d}@example.vn", "webhook_url": hook}, "channels": {},
        "active_from": "2025-07-01", "revision": 1, "updated_at": "2026-01-01T00:00:00Z"})
        for n in range(count)]


async def _publish(bootstrap: str, found: CampaignSnapshot, members: list[UnitSnapshot],
                   idempotence: bool) -> None:
    settings = ServiceSettings(port=1, database_url="sqlite://", kafka_bootstrap=bootstrap,
                               kafka_idempotence=idempotence)
    await ensure_topics(settings, (UNITS, CAMPAIGNS, CREDENTIALS, REPORTS, AGGREGATOR_BREACHES))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await producer.send_and_wait(CAMPAIGNS.name, found.model_dump_json().encode(),
                                     key=found.code.encode())
        sent = [await producer.send(UNITS.name, u.model_dump_json().encode(),
                                    key=u.code.encode()) for u in members]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


class Wave:
    """N units missing 2026-W04 when its first reminder step falls due."""

    def __init__(self, bootstrap: str, idempotence: bool, folder: Path, count: int,
                 database_url: str | None = None, **settings: str) -> None:
        self.count, self.folder = count, folder
        self.smtp, self.hooks = SmtpServer(), WebhookReceiver()
        self.clock = folder / "clock"
        self.at(BEFORE_STEP)
        self.smtp.__enter__()
        self.hooks.__enter__()
        asyncio.run(_publish(bootstrap, campaign(), units(count, self.hooks.url), idempotence))
        self.notifier: ServiceProcess = make_service(
            "notifier", tmp=folder, bootstrap=bootstrap, idempotence=idempotence,
            database_url=database_url or f"sqlite:///{folder / 'notifier.db'}",
            fault="clock_from_file", test_clock_file=str(self.clock),
            smtp_port=str(self.smtp.port), webhook_signing_key=secrets.token_urlsafe(32),
            schedule_seconds="0.2", email_per_second="0", **settings)

    def twin(self) -> ServiceProcess:
        """A second notifier process (not started) on the same database and broker, as a
        deployment running two would have."""
        port = free_port()
        first = self.notifier
        return ServiceProcess(first.service, first.env | {"NOTIFIER_PORT": str(port)},
                              self.folder / f"notifier-twin-{port}.log", port,
                              admin_token=first.admin_token, fault=first.fault)

    def start(self) -> "Wave":
        self.notifier.start()
        self.wait_known()
        return self

    def wait_known(self, timeout: float = 60) -> None:
        """Until the notifier has read every unit (it can preview the last one)."""
        deadline = time.monotonic() + timeout
        last = f"xa-{self.count - 1:05d}"
        while httpx.get(self.notifier.url + "/v1/notifications/preview", headers={
                "authorization": f"Bearer {self.notifier.admin_token}"}, params={
                "unit": last, "campaign": "dai-hoi-xiv", "period": "2026-W04"},
                timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the notifier did not read every unit"
            time.sleep(0.2)

    def fire(self) -> float:
        """The step falls due; the moment (monotonic) it did."""
        self.at(STEP)
        return time.monotonic()

    def at(self, moment: datetime) -> None:
        """Set the notifier's clock (a whole new file: never half written when read)."""
        fresh = self.clock.with_suffix(".new")
        fresh.write_text(moment.astimezone(UTC).isoformat())
        fresh.rename(self.clock)

    def delivered(self) -> tuple[Counter[str], Counter[str]]:
        """Message-IDs the SMTP server got, webhook-ids the receiver got, with counts."""
        return self.smtp.ids(), self.hooks.ids()

    def complete(self) -> bool:
        mails, hooks = self.delivered()
        return len(mails) >= self.count and len(hooks) >= self.count

    def wait_complete(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not self.complete():
            assert time.monotonic() < deadline, f"wave incomplete: {self.summary()}"
            time.sleep(0.05)
        return time.monotonic()

    def summary(self) -> str:
        mails, hooks = self.delivered()
        return (f"{len(mails)} of {self.count} emails ({sum(mails.values())} received), "
                f"{len(hooks)} of {self.count} webhooks ({sum(hooks.values())} received)")

    def close(self) -> None:
        self.notifier.stop()
        self.smtp.__exit__()
        self.hooks.__exit__()
