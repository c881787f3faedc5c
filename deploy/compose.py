"""Generates docker-compose.yml from deploy.topology, the table the tests start from.

`python -m deploy.compose > docker-compose.yml`; a test fails when the file is stale.
Docker is not available where the tests run, so the file is kept honest this way: every
service gets exactly the environment the test rig and the local launcher give it.
"""

import json
from typing import Any

from deploy.topology import DATA_SERVICES, SERVICES, service_env

KAFKA = "kafka:9092"
POSTGRES = "postgresql://campaign:campaign@postgres:5432/{name}"


def compose() -> dict[str, Any]:
    services: dict[str, Any] = {"kafka": _kafka(), "postgres": _postgres()}
    for service in SERVICES:
        env = service_env(service, port=service.port, bootstrap=KAFKA, idempotence=True,
                          database_url=POSTGRES.format(name=service.name),
                          admin_token="${REGISTRY_ADMIN_TOKEN:?set an admin token}",
                          urls={s.name: f"http://{s.name}:{s.port}" for s in SERVICES})
        env[f"{service.prefix}_HOST"] = "0.0.0.0"
        needs = {"kafka": {"condition": "service_healthy"},
                 "postgres": {"condition": "service_healthy"}} if service.keeps_data else {
            name: {"condition": "service_healthy"} for name in service.calls}
        services[service.name] = {
            "build": {"context": ".", "dockerfile": "deploy/Dockerfile"},
            "command": ["python", "-m", service.module],
            "environment": env,
            "ports": [f"{service.port}:{service.port}"],
            "depends_on": needs,
            "healthcheck": {"test": ["CMD", "python", "-c", "import urllib.request; "
                                     f"urllib.request.urlopen('http://127.0.0.1:{service.port}"
                                     "/readyz')"], "interval": "10s", "retries": 6},
            "restart": "unless-stopped",
        }
    services["prometheus"] = _prometheus()
    return {"name": "haiphong-campaign", "services": services,
            "volumes": {"kafka-data": {}, "postgres-data": {}}}


def _kafka() -> dict[str, Any]:
    return {
        "image": "apache/kafka:4.1.0",
        "environment": {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        },
        "volumes": ["kafka-data:/var/lib/kafka/data"],
        "healthcheck": {"test": ["CMD-SHELL", "/opt/kafka/bin/kafka-topics.sh "
                                 "--bootstrap-server localhost:9092 --list"],
                        "interval": "10s", "retries": 10},
    }


def _postgres() -> dict[str, Any]:
    names = " ".join(s.name for s in DATA_SERVICES)
    return {
        "image": "postgres:15",
        "environment": {"POSTGRES_USER": "campaign", "POSTGRES_PASSWORD": "campaign"},
        "volumes": ["postgres-data:/var/lib/postgresql/data",
                    "./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/init.sh:ro"],
        "command": ["postgres", "-c", "max_connections=200"],
        "labels": {"databases": names},
        "healthcheck": {"test": ["CMD", "pg_isready", "-U", "campaign"], "interval": "5s",
                        "retries": 10},
    }


def _prometheus() -> dict[str, Any]:
    return {
        "image": "prom/prometheus:v2.42.0",
        "volumes": ["./deploy/prometheus:/etc/prometheus:ro"],
        "ports": ["9090:9090"],
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
