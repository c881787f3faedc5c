"""Topic names, their keys and the configs they are created with."""

from dataclasses import dataclass, field

from pydantic import BaseModel

from services.events.operations import BreachDetected, DeadLetter, ProgressChanged
from services.events.registry import CampaignSnapshot, CredentialSnapshot, UnitSnapshot
from services.events.reports import ReportSubmitted


@dataclass(frozen=True)
class Topic:
    """One Kafka topic of the contract."""

    name: str
    model: type[BaseModel]
    key: str
    description: str
    compacted: bool = False
    partitions: int = 1
    configs: dict[str, str] = field(default_factory=dict)

    def create_configs(self) -> dict[str, str]:
        """Explicit configs: some tools refuse topics whose configs they cannot read."""
        base = {"cleanup.policy": "compact"} if self.compacted else {"cleanup.policy": "delete"}
        base["retention.ms"] = "-1" if self.compacted else str(90 * 24 * 3600 * 1000)
        return base | self.configs


UNITS = Topic(
    name="registry.units.v1",
    model=UnitSnapshot,
    key="unit code",
    description="Full snapshot of a reporting unit after every change; a tombstone "
    "(null value) when the unit is deleted. Compacted: the latest value per key is the unit.",
    compacted=True,
)
CAMPAIGNS = Topic(
    name="registry.campaigns.v1",
    model=CampaignSnapshot,
    key="campaign code",
    description="Full snapshot of a campaign (dates, peak windows, period, deadline, targets).",
    compacted=True,
)
CREDENTIALS = Topic(
    name="registry.credentials.v1",
    model=CredentialSnapshot,
    key="credential id",
    description="A credential's hash, scope and state, so that services can check bearer "
    "tokens without calling the registry. The token itself never leaves the registry.",
    compacted=True,
)

REPORTS = Topic(
    name="reporting.reports.v1",
    model=ReportSubmitted,
    key="unit code",
    description="Every report accepted at intake, whole, with its version and the report it "
    "supersedes, so consumers never call back. At least once: deduplicate by report_id.",
    partitions=3,
)

AGGREGATOR_DEAD_LETTERS = Topic(
    name="aggregator.dead-letters.v1",
    model=DeadLetter,
    key="the failed message's key",
    description="Messages the aggregator could not process, with the error and where they "
    "came from; the partition they came from keeps moving.",
)

AGGREGATOR_PROGRESS = Topic(
    name="aggregator.progress.v1",
    model=ProgressChanged,
    key="campaign:period",
    description="Every change of a period's progress, after the aggregates are durable; for "
    "the notifier and any downstream consumer. Compacted: the latest figures per period.",
    compacted=True,
)

AGGREGATOR_BREACHES = Topic(
    name="aggregator.breaches.v1",
    model=BreachDetected,
    key="unit code",
    description="A unit missed a report deadline or fell below a loudspeaker target; once "
    "per breach, for the notifier's alerts.",
)

NOTIFIER_DEAD_LETTERS = Topic(
    name="notifier.dead-letters.v1",
    model=DeadLetter,
    key="the failed message's key",
    description="Messages the notifier could not read (a report or a breach), with the error "
    "and where they came from; the partition they came from keeps moving.",
)

REGISTRY_TOPICS: tuple[Topic, ...] = (UNITS, CAMPAIGNS, CREDENTIALS)
TOPICS: tuple[Topic, ...] = (*REGISTRY_TOPICS, REPORTS, AGGREGATOR_DEAD_LETTERS,
                             AGGREGATOR_PROGRESS, AGGREGATOR_BREACHES, NOTIFIER_DEAD_LETTERS)
