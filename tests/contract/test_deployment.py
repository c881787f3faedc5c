"""docker-compose.yml, Prometheus's targets, the services' settings and the topology table
agree: names, ports, variables, images at the versions the tests run, secrets only from
the env file, pinned packages. Docker cannot run here; these checks stand in for it."""

import importlib.metadata
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from deploy import compose, monitoring
from deploy.topology import DATA_SERVICES, SERVICES
from services.bus.relay_process import STOP_SECONDS
from services.runtime import GRACEFUL_SECONDS
from tests.contract.test_contract import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
FILE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
APPS = [s.name for s in SERVICES] + [f"{name}-2" for name in compose.SCALED]
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _service(name: str) -> Any:
    return next(s for s in SERVICES if s.name == name.removesuffix("-2"))


def _seconds(duration: str) -> int:
    assert duration.endswith("s")
    return int(duration[:-1])


@pytest.mark.parametrize("name", APPS)
def test_each_process_runs_its_module_on_its_port_after_the_schema_job(name: str) -> None:
    service, spec = _service(name), FILE["services"][name]
    assert spec["command"] == ["python", "-m", service.module]
    env = spec["environment"]
    assert env[f"{service.prefix}_PORT"] == str(service.port)
    assert "/readyz" in " ".join(spec["healthcheck"]["test"])
    assert str(service.port) in " ".join(spec["healthcheck"]["test"])
    if name.endswith("-2"):
        assert "ports" not in spec and spec["profiles"] == ["scale-out"]
    else:
        assert spec["ports"] == [f"{service.port}:{service.port}"]
    if service.keeps_data:
        assert spec["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
        assert env[f"{service.prefix}_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env[f"{service.prefix}_DATABASE_URL"].endswith(f"@postgres:5432/{service.name}")
    else:
        assert set(spec["depends_on"]) == set(service.calls)
    for called in service.calls:
        assert env[f"{service.prefix}_{called.upper()}_URL"] == \
            f"http://{called}:{_service(called).port}"
    # longer than the service's own drain, so that a stop never cuts the outbox's flush
    assert _seconds(spec["stop_grace_period"]) > GRACEFUL_SECONDS + STOP_SECONDS


@pytest.mark.parametrize("name", APPS)
def test_every_setting_a_service_requires_is_given(name: str) -> None:
    service = _service(name)
    env = FILE["services"][name]["environment"]
    for field, info in SETTINGS[service.name].model_fields.items():
        if info.is_required():
            assert f"{service.prefix}_{field.upper()}" in env, field


def test_the_schema_job_migrates_every_database_the_services_use_and_makes_the_topics() -> None:
    init = FILE["services"]["init"]
    assert init["command"] == ["python", "-m", "deploy.init", "schema"]
    assert init["environment"]["INIT_KAFKA_BOOTSTRAP"] == "kafka:9092"
    for service in DATA_SERVICES:
        assert init["environment"][f"INIT_{service.prefix}_DATABASE_URL"] == \
            FILE["services"][service.name]["environment"][f"{service.prefix}_DATABASE_URL"]
    assert set(FILE["services"]["postgres"]["environment"]["CAMPAIGN_DATABASES"].split()) == {
        s.name for s in DATA_SERVICES}
    setup = FILE["services"]["setup"]
    assert setup["command"] == ["python", "-m", "deploy.init", "units"]
    assert setup["depends_on"] == {"registry": {"condition": "service_healthy"}}
    assert setup["environment"]["INIT_ADMIN_TOKEN"] == \
        FILE["services"]["registry"]["environment"]["REGISTRY_ADMIN_TOKEN"]


def test_prometheus_scrapes_every_process_of_every_service_at_its_port() -> None:
    config = yaml.safe_load((monitoring.FOLDER / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    assert list(jobs) == [s.name for s in SERVICES]
    for service in SERVICES:
        names = [n for n in APPS if _service(n) is service]
        assert jobs[service.name]["names"] == names
        assert jobs[service.name]["port"] == service.port
    assert config["rule_files"] == [monitoring.RULES]
    prometheus = FILE["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--storage.tsdb.path=/prometheus" in prometheus["command"]
    assert "prometheus-data:/prometheus" in prometheus["volumes"]


def test_kafka_keeps_its_topics_on_its_volume() -> None:
    kafka = FILE["services"]["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert f"kafka-data:{log_dirs}" in kafka["volumes"]
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # init's job
    assert kafka["environment"]["CLUSTER_ID"]


def test_grafana_loads_the_data_source_and_the_dashboards_it_is_given() -> None:
    grafana = FILE["services"]["grafana"]
    mounts = {target: ROOT / source for source, target in (
        v.removesuffix(":ro").split(":") for v in grafana["volumes"] if v.startswith("./"))}
    provisioning = mounts["/etc/grafana/provisioning"]
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    [prometheus] = source["datasources"]
    assert prometheus["uid"] == "prometheus" and prometheus["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "campaign.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    dashboards = mounts[path]
    assert sorted(p.stem for p in dashboards.glob("*.json")) == ["campaign-progress",
                                                                "service-health"]
    uids = set(re.findall(r'"uid": "([^"]+)"', "".join(
        p.read_text() for p in dashboards.glob("*.json"))))
    assert uids == {"prometheus", "campaign-progress", "service-health"}  # the data source's
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (mounts[str(home.parent)] / home.name).exists()
    assert "grafana-data:/var/lib/grafana" in grafana["volumes"]


def test_every_named_volume_is_declared() -> None:
    used = {v.split(":", 1)[0] for s in FILE["services"].values() for v in s.get("volumes", [])
            if not v.startswith("./")}
    assert used == set(FILE["volumes"])


def test_secrets_come_from_the_env_file_and_every_variable_is_in_its_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    referenced = set(VARIABLE.findall(text))
    example = {line.split("=", 1)[0] for line in (ROOT / "deploy" / "env.example").read_text()
               .splitlines() if line and not line.startswith("#")}
    assert referenced == example
    for name, spec in FILE["services"].items():
        for key, value in spec.get("environment", {}).items():
            if re.search(r"PASSWORD|TOKEN|SIGNING_KEY|SECRET", key):
                assert VARIABLE.fullmatch(value), f"{name}: {key} is written in the file"
    assert "POSTGRES_PASSWORD:?" in FILE["services"]["postgres"]["environment"][
        "POSTGRES_PASSWORD"]


def test_images_are_the_versions_the_tests_run() -> None:
    services = FILE["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{compose.kafka_version()}"
    sdk = importlib.metadata.version("grafana-foundation-sdk").split("!")[1]
    assert services["grafana"]["image"] == f"grafana/grafana:{sdk}"
    if (prometheus := shutil.which("prometheus")) is not None:
        shown = subprocess.run([prometheus, "--version"], capture_output=True, text=True,
                               check=True).stdout
        version = re.search(r"version (\d+\.\d+\.\d+)", shown)
        assert version and services["prometheus"]["image"] == f"prom/prometheus:v{version[1]}"
    majors = [p.name for p in Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()]
    if majors:
        assert services["postgres"]["image"].split(":")[1].split("-")[0] in majors


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "deploy" / lock).read_text()
    return {name.lower(): version for name, version in
            re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", text, re.M)}


def test_the_image_installs_pinned_packages_and_runs_as_a_plain_user() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --require-hashes -r deploy/requirements.lock" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "npm ci --omit=dev" in dockerfile  # the browser assets the services serve


def test_the_lock_pins_every_dependency_within_pyproject_and_as_the_tests_run() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    image, tests = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for line in project["dependencies"]:
        wanted = Requirement(line)
        assert wanted.specifier.contains(image[wanted.name.lower()]), line
    assert {n: v for n, v in tests.items() if n in image} == image  # the same versions
    for line in project["optional-dependencies"]["dev"]:
        wanted = Requirement(line)
        assert wanted.specifier.contains(tests[wanted.name.lower()], prereleases=True), line
    for name, version in image.items():  # and the tests run those
        assert importlib.metadata.version(name) == version, name
