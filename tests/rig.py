"""The test rig: real brokers, real databases and real service processes.

The broker and database legs come from TEST_BROKER (tansu|kafka) and TEST_DATABASE
(sqlite|postgres); `make test` runs the integration suite once per leg.
"""

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.brokers import free_port
from deploy.topology import SERVICES, Service, service_env
from services import periods

BROKER = os.environ.get("TEST_BROKER", "tansu")
DATABASE = os.environ.get("TEST_DATABASE", "sqlite")


def on_legs(*legs: str, why: str) -> list[pytest.MarkDecorator]:
    """The marks of an integration module that runs on some legs only (`broker:database`),
    to keep the whole run within its time: the others skip it, saying why."""
    wanted = {tuple(leg.split(":")) for leg in legs}
    return [pytest.mark.integration,
            pytest.mark.skipif((BROKER, DATABASE) not in wanted, reason=why)]


def until(condition: Callable[[], object], timeout: float = 30,
          what: str | Callable[[], str] = "") -> None:
    """Wait for a condition; failing, say what was awaited (`what`, or what it returns)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, \
            f"not within {timeout} s: {what() if callable(what) else what or 'condition'}"
        time.sleep(0.1)


@dataclass
class ServiceProcess:
    """One service started as `python -m services.<name>` on a free port."""

    service: Service
    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    admin_token: str | None = None
    fault: str | None = None  # a fault of tests.faults to run the service with

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: str = "/readyz", timeout: float = 60) -> "ServiceProcess":
        log = self.log_path.open("ab")
        command = [sys.executable, "-m", self.service.module]
        if self.fault is not None:
            command[2:] = ["tests.faults", self.fault, self.service.module]
        self.process = subprocess.Popen(command,
                                        env=os.environ | self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        self.wait_for(wait, timeout)
        return self

    def wait_for(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service.name} exited:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.service.name} not ready:\n{self.logs()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> int:
        """Stop the process; SIGTERM lets it drain: its relay flushes (up to 6 s, longer while
        a new topic's leader is elected), each runner closes (its Kafka clients up to 10 s
        each). The aggregator has three runners on Kafka, two clients each at most: 66 s in
        the worst case, which a fold still catching up with a leg's whole report topic came
        near once (the 45 s allowed before ran out)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing flushed, nothing shut down. `start` starts it
        again on the same port and database."""
        self.stop(signal.SIGKILL)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[int]:
        """The pids of the processes this service started (its outbox relay, say)."""
        assert self.process is not None
        return children_of(self.process.pid)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def admin(self) -> httpx.Client:
        return self.client(self.admin_token)


def children_of(pid: int) -> list[int]:
    """Live child processes of a process, from /proc."""
    return [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
            if (state := _state(stat)) is not None and state[1] == pid and state[0] != "Z"]


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not)."""
    state = _state(Path(f"/proc/{pid}/stat"))
    return state is not None and state[0] != "Z"


def resident_bytes(pid: int) -> int:
    """A process's resident memory (VmRSS), from /proc; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(line.split()[1]) * 1024 if line else 0


def command_of(pid: int) -> list[str]:
    """A process's command line, from /proc; empty once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def _state(stat: Path) -> tuple[str, int] | None:
    """A process's state letter and parent pid, or None once it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command's name
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1])


def make_service(name: str, *, tmp: Path, bootstrap: str, idempotence: bool,
                 database_url: str, fault: str | None = None, **extra: str) -> ServiceProcess:
    """A service process (not started) wired to the given broker and database."""
    service = next(s for s in SERVICES if s.name == name)
    port = free_port()
    admin = secrets.token_urlsafe(32)
    env = service_env(service, port=port, database_url=database_url, bootstrap=bootstrap,
                      idempotence=idempotence, admin_token=admin)
    env |= {f"{service.prefix}_{k.upper()}": v for k, v in extra.items()}
    return ServiceProcess(service, env, tmp / f"{name}-{uuid.uuid4().hex[:6]}.log", port,
                          admin_token=admin, fault=fault)


def open_campaign(registry: ServiceProcess) -> str:
    """A campaign that runs now: three weeks in, so that a period is due and one is next;
    no quiet hours, so that receipts go out at any time of the test's day."""
    code = f"live-{uuid.uuid4().hex[:6]}"
    today = periods.today()
    duty = {"reports_each_period": True, "loudspeaker_per_week": 3,
            "loudspeaker_per_peak_day": 1}
    registry.admin().post("/v1/campaigns", json={
        "code": code, "name": "Chiến dịch thử giám sát", "starts_on": str(today - timedelta(21)),
        "ends_on": str(today + timedelta(28)), "targets": {"commune": duty},
        "peak_windows": [{"starts_on": str(today - timedelta(10)),
                          "ends_on": str(today - timedelta(4))}],
        "notifications": {"quiet_hours": None}}).raise_for_status()
    return code


@dataclass
class Record:
    key: str
    value: dict[str, Any] | None
    offset: int


@dataclass
class TopicReader:
    """Reads a topic from the beginning, as a consumer rebuilding its state would."""

    bootstrap: str

    def read(self, topic: str, *, until: Callable[[list[Record]], bool],
             timeout: float = 20) -> list[Record]:
        return asyncio.run(self._read(topic, until, timeout))

    def read_all(self, topic: str, timeout: float = 20) -> list[Record]:
        """Everything the topic holds now (its end offsets when the read starts)."""
        return asyncio.run(self._read_all(topic, timeout))

    async def _read_all(self, topic: str, timeout: float) -> list[Record]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            metadata = await consumer._client.fetch_all_metadata()
            partitions = [TopicPartition(topic, p)
                          for p in metadata.partitions_for_topic(topic) or ()]
            if not partitions:
                return []
            ends = await consumer.end_offsets(partitions)
            total = sum(ends.values()) - sum((await consumer.beginning_offsets(
                partitions)).values())
            return await self._collect(consumer, topic, lambda rs: len(rs) >= total, timeout)
        finally:
            await consumer.stop()

    async def _read(self, topic: str, until: Callable[[list[Record]], bool],
                    timeout: float) -> list[Record]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        try:
            return await self._collect(consumer, topic, until, timeout)
        finally:
            await consumer.stop()

    async def _collect(self, consumer: AIOKafkaConsumer, topic: str,
                       until: Callable[[list[Record]], bool], timeout: float) -> list[Record]:
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        assigned = False
        while time.monotonic() < deadline and not (records and until(records)):
            if not assigned:
                partitions = await consumer._client.fetch_all_metadata()
                ids = partitions.partitions_for_topic(topic)
                if not ids:
                    await asyncio.sleep(0.2)
                    continue
                consumer.assign([TopicPartition(topic, p) for p in ids])
                await consumer.seek_to_beginning()
                assigned = True
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                records.extend(Record(m.key.decode() if m.key else "",
                                      json.loads(m.value) if m.value is not None else None,
                                      m.offset) for m in messages)
        return records


def latest(records: list[Record]) -> dict[str, dict[str, Any] | None]:
    """What a compacted topic says: the last value per key."""
    state: dict[str, dict[str, Any] | None] = {}
    for record in records:
        state[record.key] = record.value
    return state
