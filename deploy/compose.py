"""Generates docker-compose.yml from deploy.topology, the table the tests start from.

`python -m deploy.compose > docker-compose.yml`; a test fails when the file is stale.
Docker is not available where the tests run, so the file is kept honest this way: every
service gets exactly the environment the test rig and the local launcher give it, the
images are the versions the tests run (Kafka, PostgreSQL's major, Prometheus, Grafana's
for the dashboards), and a test checks the rest (tests/contract/test_deployment.py).

Secrets come from `.env` beside the file (compose reads it; deploy/env.example lists
every variable): the file itself holds none.
"""

import json
import re
from pathlib import Path
from typing import Any

from deploy.topology import DATA_SERVICES, SERVICES, Service, service_env
from services.bus.relay_process import STOP_SECONDS
from services.runtime import GRACEFUL_SECONDS

DEPLOY = Path(__file__).parent
KAFKA = "kafka:9092"
KAFKA_DATA = "/var/lib/kafka/data"  # made by the image for its user: a new volume keeps that
KAFKA_CLUSTER_ID = "aGFpcGhvbmctY2FtcGFpZ24"  # KRaft's, fixed: the volume keeps its format
POSTGRES_IMAGE = "postgres:15-bookworm"  # the major the tests run (Debian 12's)
PROMETHEUS_IMAGE = "prom/prometheus:v2.42.0"  # the version of Debian's, which the tests run
GRAFANA_IMAGE = "grafana/grafana:11.6.0"  # the dashboards are built for it (deploy.dashboards)
POSTGRES = "postgresql://campaign:${POSTGRES_PASSWORD:?see deploy/env.example}@postgres:5432/{name}"
ADMIN_TOKEN = "${REGISTRY_ADMIN_TOKEN:?see deploy/env.example}"
# longer than a service's own drain: requests, then its relay's flush and stop
STOP_GRACE = f"{2 * (GRACEFUL_SECONDS + STOP_SECONDS)}s"
SCALED = ("aggregator", "notifier")  # consumers that share a group by partitions
# what the deployment sets beyond the tests: its site's mail, keys and addresses
SITE = {
    "registry": {"REGISTRY_WEBHOOK_SIGNING_KEY": "${WEBHOOK_SIGNING_KEY:?see deploy/env.example}"},
    "notifier": {
        "NOTIFIER_WEBHOOK_SIGNING_KEY": "${WEBHOOK_SIGNING_KEY:?see deploy/env.example}",
        "NOTIFIER_SMTP_HOST": "${SMTP_HOST:?see deploy/env.example}",
        "NOTIFIER_SMTP_PORT": "${SMTP_PORT:-587}",
        "NOTIFIER_SMTP_STARTTLS": "${SMTP_STARTTLS:-true}",
        "NOTIFIER_SMTP_USERNAME": "${SMTP_USERNAME:-}",
        "NOTIFIER_SMTP_PASSWORD": "${SMTP_PASSWORD:-}",
        "NOTIFIER_MAIL_FROM": "${MAIL_FROM:?see deploy/env.example}",
        "NOTIFIER_MAIL_DOMAIN": "${MAIL_DOMAIN:?see deploy/env.example}",
        "NOTIFIER_DEPARTMENT_EMAILS": "${DEPARTMENT_EMAILS:-[]}",
        "NOTIFIER_PORTAL_URL": "${PORTAL_URL:?see deploy/env.example}",
    },
    "portal": {"PORTAL_SECURE_COOKIES": "${PORTAL_SECURE_COOKIES:-false}"},
}


def kafka_version() -> str:
    """The Apache Kafka the tests run (deploy/kafka/pom.xml)."""
    pom = (DEPLOY / "kafka" / "pom.xml").read_text()
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    if found is None:
        raise ValueError("deploy/kafka/pom.xml names no kafka.version")
    return found.group(1)


def compose() -> dict[str, Any]:
    services: dict[str, Any] = {"kafka": _kafka(), "postgres": _postgres(), "init": _init()}
    for service in SERVICES:
        services[service.name] = _service(service)
    services["setup"] = _setup()
    for name in SCALED:  # `docker compose --profile scale-out up -d`: a second process each
        second = _service(next(s for s in SERVICES if s.name == name))
        del second["ports"]  # the first publishes the port; Prometheus finds both by name
        services[f"{name}-2"] = second | {"profiles": ["scale-out"]}
    services["prometheus"] = _prometheus()
    services["grafana"] = _grafana()
    return {"name": "haiphong-campaign", "services": services,
            "volumes": {name: {} for name in ("kafka-data", "postgres-data", "prometheus-data",
                                              "grafana-data")}}


def _image() -> dict[str, Any]:
    return {"build": {"context": ".", "dockerfile": "deploy/Dockerfile"},
            "image": "haiphong-campaign:latest"}


def _service(service: Service) -> dict[str, Any]:
    env = service_env(service, port=service.port, bootstrap=KAFKA, idempotence=True,
                      database_url=POSTGRES.replace("{name}", service.name),
                      admin_token=ADMIN_TOKEN,
                      urls={s.name: f"http://{s.name}:{s.port}" for s in SERVICES})
    env[f"{service.prefix}_HOST"] = "0.0.0.0"
    env |= SITE.get(service.name, {})
    needs = {"init": {"condition": "service_completed_successfully"}} if service.keeps_data \
        else {name: {"condition": "service_healthy"} for name in service.calls}
    return _image() | {
        "command": ["python", "-m", service.module],
        "environment": env,
        "ports": [f"{service.port}:{service.port}"],
        "depends_on": needs,
        "healthcheck": {"test": ["CMD", "python", "-c", "import urllib.request; "
                                 f"urllib.request.urlopen('http://127.0.0.1:{service.port}"
                                 "/readyz')"], "interval": "10s", "timeout": "5s",
                        "retries": 6, "start_period": "30s"},
        "stop_grace_period": STOP_GRACE,
        "restart": "unless-stopped",
    }


def _init() -> dict[str, Any]:
    """Topics and schemas, before any service starts (deploy/init.py)."""
    env = {"INIT_KAFKA_BOOTSTRAP": KAFKA} | {
        f"INIT_{s.prefix}_DATABASE_URL": POSTGRES.replace("{name}", s.name)
        for s in DATA_SERVICES}
    return _image() | {
        "command": ["python", "-m", "deploy.init", "schema"], "environment": env,
        "depends_on": {"kafka": {"condition": "service_healthy"},
                       "postgres": {"condition": "service_healthy"}},
        "restart": "no"}


def _setup() -> dict[str, Any]:
    """The reference units and the first leadership token, once the registry is ready."""
    registry = next(s for s in SERVICES if s.name == "registry")
    return _image() | {
        "command": ["python", "-m", "deploy.init", "units"],
        "environment": {"INIT_REGISTRY_URL": f"http://registry:{registry.port}",
                        "INIT_ADMIN_TOKEN": ADMIN_TOKEN},
        "depends_on": {"registry": {"condition": "service_healthy"}}, "restart": "no"}


def _kafka() -> dict[str, Any]:
    return {
        "image": f"apache/kafka:{kafka_version()}",
        "environment": {
            "CLUSTER_ID": KAFKA_CLUSTER_ID,
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
            "KAFKA_LOG_DIRS": KAFKA_DATA,
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        },
        "volumes": [f"kafka-data:{KAFKA_DATA}"],
        "healthcheck": {"test": ["CMD-SHELL", "/opt/kafka/bin/kafka-topics.sh "
                                 "--bootstrap-server localhost:9092 --list"],
                        "interval": "10s", "timeout": "10s", "retries": 10,
                        "start_period": "30s"},
        "stop_grace_period": "60s",
        "restart": "unless-stopped",
    }


def _postgres() -> dict[str, Any]:
    names = " ".join(s.name for s in DATA_SERVICES)
    return {
        "image": POSTGRES_IMAGE,
        "environment": {"POSTGRES_USER": "campaign",
                        "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?see deploy/env.example}",
                        "CAMPAIGN_DATABASES": names},
        "volumes": ["postgres-data:/var/lib/postgresql/data",
                    "./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/init.sh:ro"],
        "command": ["postgres", "-c", "max_connections=200"],
        "healthcheck": {"test": ["CMD", "pg_isready", "-U", "campaign"], "interval": "5s",
                        "retries": 10},
        "stop_grace_period": "60s",
        "restart": "unless-stopped",
    }


def _prometheus() -> dict[str, Any]:
    return {
        "image": PROMETHEUS_IMAGE,
        "command": ["--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=400d",
                    "--web.enable-lifecycle"],
        "volumes": ["./deploy/prometheus:/etc/prometheus:ro", "prometheus-data:/prometheus"],
        "ports": ["9090:9090"],
        "restart": "unless-stopped",
    }


def _grafana() -> dict[str, Any]:
    return {
        "image": GRAFANA_IMAGE,
        "environment": {
            "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:?see deploy/env.example}",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH":
                "/etc/grafana/dashboards/campaign-progress.json",
        },
        "volumes": ["./deploy/grafana/provisioning:/etc/grafana/provisioning:ro",
                    "./deploy/grafana/dashboards:/etc/grafana/dashboards:ro",
                    "grafana-data:/var/lib/grafana"],
        "ports": ["3000:3000"],
        "depends_on": {"prometheus": {"condition": "service_started"}},
        "restart": "unless-stopped",
    }


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small YAML writer for nested dicts and lists of plain values (block style)."""
    pad = "  " * indent
    lines = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        head = f"{pad}{_key(str(key))}:" if isinstance(value, dict) else f"{pad}-"
        if isinstance(value, list) and isinstance(item, dict) and item:
            lines.append(f"{pad}- {to_yaml(item, indent + 1).removeprefix(pad + '  ')}")
        elif isinstance(item, dict | list) and item:
            lines.append(f"{head}\n{to_yaml(item, indent + 1)}")
        else:
            lines.append(f"{head} {_scalar(item)}\n")
    return "".join(lines)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML string


def render() -> str:
    header = "# Generated by `python -m deploy.compose > docker-compose.yml`; do not edit.\n"
    return header + to_yaml(compose())


if __name__ == "__main__":
    print(render(), end="")
