"""Fixtures: the broker and database of this leg, fresh databases, service processes."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from deploy.brokers import launch
from deploy.postgres import Postgres
from tests.rig import BROKER, DATABASE, ServiceProcess, TopicReader, make_service


def pytest_report_header() -> str:
    return f"leg: broker={BROKER} database={DATABASE}"


@pytest.fixture(scope="session")
def broker() -> Iterator[object]:
    started = launch(BROKER)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres | None]:
    if DATABASE != "postgres":
        yield None
        return
    server = Postgres().start()
    yield server
    server.stop()


class Databases:
    """Makes fresh, empty databases on this leg's backend."""

    def __init__(self, postgres: Postgres | None, folder: Path) -> None:
        self.postgres, self.folder = postgres, folder

    def __call__(self, name: str) -> str:
        if self.postgres is None:
            return f"sqlite:///{self.folder / name}-{uuid.uuid4().hex[:8]}.db"
        database = f"{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.postgres.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        return self.postgres.url.rsplit("/", 1)[0] + f"/{database}"


class Services:
    """Starts service processes on the leg's broker (or another one); stops them all."""

    def __init__(self, broker: Any, databases: Databases, folder: Path) -> None:
        self.broker, self.databases, self.folder = broker, databases, folder
        self.started: list[ServiceProcess] = []

    def __call__(self, name: str, *, on: Any = None, database: str | None = None,
                 fault: str | None = None, **extra: str) -> ServiceProcess:
        target = on or self.broker
        process = make_service(name, tmp=self.folder, bootstrap=target.bootstrap,
                               idempotence=target.supports_idempotence,
                               database_url=database or self.databases(name), fault=fault,
                               **extra)
        self.started.append(process)
        return process.start()

    def stop(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def database_url(postgres: Postgres | None, tmp_path: Path) -> Databases:
    return Databases(postgres, tmp_path)


@pytest.fixture
def service_factory(broker, database_url, tmp_path) -> Iterator[Services]:
    """Service processes for one test."""
    services = Services(broker, database_url, tmp_path)
    yield services
    services.stop()


@pytest.fixture(scope="module")
def module_services(broker, postgres, tmp_path_factory) -> Iterator[Services]:
    """Service processes shared by a module's tests (each test makes its own units)."""
    folder = tmp_path_factory.mktemp("services")
    services = Services(broker, Databases(postgres, folder), folder)
    yield services
    services.stop()


@pytest.fixture
def registry(service_factory) -> ServiceProcess:
    return service_factory("registry")


@pytest.fixture
def reader(broker) -> TopicReader:
    return TopicReader(broker.bootstrap)
