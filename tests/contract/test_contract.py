"""The Kafka contract and the deployment files stay in step with the code."""

import json
import os
from pathlib import Path

import pytest

from deploy import compose
from deploy.topology import SERVICES
from services import asyncapi
from services.aggregator.settings import AggregatorSettings
from services.config import HttpSettings
from services.events import TOPICS, CampaignSnapshot
from services.notifier.settings import NotifierSettings
from services.portal.settings import PortalSettings
from services.registry.settings import RegistrySettings
from services.reporting.settings import ReportingSettings

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).parent / "schemas"
UPDATE = os.environ.get("UPDATE_CONTRACT") == "1"
SETTINGS: dict[str, type[HttpSettings]] = {
    "registry": RegistrySettings, "reporting": ReportingSettings,
    "aggregator": AggregatorSettings, "notifier": NotifierSettings, "portal": PortalSettings}


def check_generated(path: Path, current: str, how: str) -> None:
    if UPDATE:
        path.write_text(current, encoding="utf-8")
    assert path.exists(), f"{path} is missing: {how}"
    assert path.read_text(encoding="utf-8") == current, f"{path} is stale: {how}"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_message_schema_is_pinned(topic) -> None:
    """A changed schema fails here: a compatible change updates the pin in review,
    a breaking one gets a new topic version (`.v2`) instead."""
    schema = json.dumps(topic.model.model_json_schema(), indent=2, sort_keys=True,
                        ensure_ascii=False) + "\n"
    check_generated(PINNED / f"{topic.name}.json", schema,
                    "UPDATE_CONTRACT=1 pytest tests/contract")


def test_asyncapi_document_is_current() -> None:
    current = json.dumps(asyncapi.document(), indent=2, ensure_ascii=False, sort_keys=True)
    check_generated(ROOT / "docs" / "asyncapi.json", current + "\n",
           "python -m services.asyncapi > docs/asyncapi.json")


def test_topic_names_carry_their_version() -> None:
    for topic in TOPICS:
        assert topic.name.endswith(".v1")


def test_compose_file_is_generated_from_the_topology() -> None:
    check_generated(ROOT / "docker-compose.yml", compose.render(),
           "python -m deploy.compose > docker-compose.yml")


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_compose_sets_only_real_settings(service) -> None:
    environment = compose.compose()["services"][service.name]["environment"]
    fields = SETTINGS[service.name].model_fields
    for variable in environment:
        assert variable.startswith(f"{service.prefix}_")
        assert variable.removeprefix(f"{service.prefix}_").lower() in fields, variable


def test_a_campaign_published_before_it_had_notification_rules_reads_with_the_defaults() -> None:
    """The compacted campaigns topic keeps messages from before `notifications` existed."""
    seed = json.loads((ROOT / "services/registry/seed/dai-hoi-xiv.json").read_text())
    assert "notifications" not in seed
    old = CampaignSnapshot.model_validate(seed | {"revision": 1,
                                                  "updated_at": "2026-01-01T00:00:00Z"})
    assert [step.name for step in old.notifications.reminders] == [
        "before-48h", "before-2h", "after-24h"]
    assert old.notifications.quiet_hours is not None
