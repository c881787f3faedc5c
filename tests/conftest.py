"""Fixtures: the broker and database of this leg, fresh databases, service processes."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

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


@pytest.fixture
def database_url(postgres: Postgres | None, tmp_path: Path) -> Callable[[str], str]:
    """Makes a fresh, empty database per call, on this leg's backend."""

    def make(name: str) -> str:
        if postgres is None:
            return f"sqlite:///{tmp_path / name}.db"
        database = f"{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        return postgres.url.rsplit("/", 1)[0] + f"/{database}"

    return make


@pytest.fixture
def service_factory(broker, database_url, tmp_path) -> Iterator[Callable[..., ServiceProcess]]:
    """Starts service processes on this leg's broker; stops them after the test."""
    started: list[ServiceProcess] = []

    def start(name: str, *, on=None, database: str | None = None, **extra: str) -> ServiceProcess:
        target = on or broker
        process = make_service(name, tmp=tmp_path, bootstrap=target.bootstrap,
                               idempotence=target.supports_idempotence,
                               database_url=database or database_url(name), **extra)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def registry(service_factory) -> ServiceProcess:
    return service_factory("registry")


@pytest.fixture
def reader(broker) -> TopicReader:
    return TopicReader(broker.bootstrap)
