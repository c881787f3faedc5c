"""Fast tests' shared fixtures: a real SQLite database per test, migrated like a service's."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services import database


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[Callable[[Path], Engine]]:
    """Give it a service's migrations folder; get an engine on a fresh, migrated database."""
    engines: list[Engine] = []

    def make(migrations: Path) -> Engine:
        engine = database.make_engine(f"sqlite:///{tmp_path / f'db-{len(engines)}.sqlite'}")
        database.migrate(engine, migrations)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
