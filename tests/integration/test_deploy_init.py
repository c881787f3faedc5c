"""The deployment's one-shot jobs (deploy/init.py, docker-compose.yml's `init` and
`setup`) on a fresh broker and fresh PostgreSQL databases: `schema` makes every topic with
its partitions and brings each database to its newest revision before any service starts;
`units` loads the reference units and prints the first leadership token, and run again
changes nothing and issues no second token.

On one leg (tansu:postgres): the deployment's database; the broker is a fresh one."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from alembic.config import Config
from alembic.script import ScriptDirectory

from deploy.brokers import launch
from deploy.topology import DATA_SERVICES
from services.events import TOPICS
from tests.rig import on_legs

pytestmark = on_legs("tansu:postgres", why="the deployment's jobs run on one leg: "
                     "tansu:postgres")
ROOT = Path(__file__).resolve().parents[2]


def job(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "deploy.init", name], cwd=ROOT,
                          env=os.environ | env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


async def partitions(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in TOPICS])
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described}


def revision(url: str) -> str | None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")
                                      ).scalar_one()
    finally:
        engine.dispose()


def head(service_module: str) -> str | None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / service_module.replace(".", "/")
                                                  / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def test_the_schema_job_then_the_units_job_make_a_deployment_ready(
        database_url, service_factory, tmp_path) -> None:
    broker = launch("tansu", workdir=tmp_path / "broker")
    try:
        urls = {s.name: database_url(s.name) for s in DATA_SERVICES}
        env = {"INIT_KAFKA_BOOTSTRAP": broker.bootstrap} | {
            f"INIT_{s.prefix}_DATABASE_URL": urls[s.name] for s in DATA_SERVICES}
        printed = job("schema", env).stdout
        assert asyncio.run(partitions(broker.bootstrap)) == {t.name: t.partitions
                                                               for t in TOPICS}
        assert "reporting.reports.v1 (3)" in printed
        for service in DATA_SERVICES:
            assert revision(urls[service.name]) == head(service.module), service.name

        registry = service_factory("registry", on=broker, database=urls["registry"])
        setup = {"INIT_REGISTRY_URL": registry.url, "INIT_ADMIN_TOKEN": registry.admin_token}
        first = job("units", setup).stdout
        assert "units: 114 created, 0 updated, 0 unchanged" in first
        [token] = [line.rsplit(" ", 1)[1] for line in first.splitlines()
                   if line.startswith("leadership token")]
        me = httpx.get(registry.url + "/v1/credentials/me",
                       headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert me.status_code == 200 and me.json()["scope"] == "leadership"

        again = job("units", setup).stdout  # `docker compose up` again: nothing new
        assert "units: 0 created, 0 updated, 114 unchanged" in again
        assert "a leadership token is live already: none issued" in again
        assert "leadership token (" not in again
    finally:
        broker.stop()


def test_a_job_without_its_settings_names_the_missing_variable() -> None:
    done = subprocess.run([sys.executable, "-m", "deploy.init", "schema"], cwd=ROOT,
                          env={k: v for k, v in os.environ.items() if not k.startswith("INIT_")},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "INIT_KAFKA_BOOTSTRAP is not set" in done.stderr
