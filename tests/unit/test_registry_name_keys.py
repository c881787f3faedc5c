"""The registry's upgrade makes every unit's comparison key again with the rule that leaves
out what cannot be seen; look-alikes stored earlier are named, and the upgrade goes on."""

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from services import database
from services.registry.migrations import MIGRATIONS
from services.registry.names import name_key


def _upgrade(engine: sa.Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _add(engine: sa.Engine, code: str, name: str, key: str, created: int) -> None:
    at = datetime(2025, 7, 1, created, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO units (code, name, name_key, kind, active_from, revision, created_at, "
            "updated_at) VALUES (:code, :name, :key, 'commune', :day, 1, :at, :at)"),
            {"code": code, "name": name, "key": key, "day": date(2025, 7, 1), "at": at})


def _keys(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT code, name_key FROM units")).all())


def test_old_keys_holding_invisible_characters_are_made_again(tmp_path: Path, capsys) -> None:
    engine = database.make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    _upgrade(engine, "0002")
    # keys as the earlier rule made them: the zero-width space kept
    _add(engine, "xa-an-hung", "Xã An\u200b Hưng", "xa4 an\u200b hu7ng", 1)
    _add(engine, "xa-binh", "Xã Bình", "xa4 bi2nh", 2)
    _add(engine, "xa-dong", "Xã Đông", "xa4 đông", 3)
    _add(engine, "xa-dong-2", "Xã Đông\u200d", "xa4 đông\u200d", 4)  # displays as xa-dong
    _upgrade(engine, "head")
    keys = _keys(engine)
    assert keys["xa-an-hung"] == name_key("Xã An Hưng") != "xa4 an\u200b hu7ng"
    assert keys["xa-binh"] == name_key("Xã Bình")
    assert keys["xa-dong"] == name_key("Xã Đông")
    assert keys["xa-dong-2"] == "xa4 đông\u200d"  # the later look-alike keeps its old key
    printed = capsys.readouterr().out
    assert "xa-dong and xa-dong-2" in printed and "retire or rename one" in printed
    engine.dispose()
