"""The Kafka contract: event models, topic names and keys. No I/O lives here."""

from services.events.operations import (
    BreachDetected,
    DeadLetter,
    KindProgress,
    ProgressChanged,
)
from services.events.registry import (
    CampaignSnapshot,
    CredentialSnapshot,
    DeadlineRule,
    KindTargets,
    PeakWindow,
    UnitChannels,
    UnitContacts,
    UnitSnapshot,
)
from services.events.reports import Activity, ReportSubmitted
from services.events.topics import (
    AGGREGATOR_BREACHES,
    AGGREGATOR_DEAD_LETTERS,
    AGGREGATOR_PROGRESS,
    CAMPAIGNS,
    CREDENTIALS,
    REGISTRY_TOPICS,
    REPORTS,
    TOPICS,
    UNITS,
    Topic,
)
from services.events.vocabulary import (
    COMMUNE_LEVEL,
    ActivityKind,
    CredentialScope,
    Language,
    Platform,
    ReportingPeriod,
    UnitKind,
)

__all__ = [
    "AGGREGATOR_BREACHES",
    "AGGREGATOR_DEAD_LETTERS",
    "AGGREGATOR_PROGRESS",
    "CAMPAIGNS",
    "REGISTRY_TOPICS",
    "REPORTS",
    "Activity",
    "ReportSubmitted",
    "COMMUNE_LEVEL",
    "CREDENTIALS",
    "TOPICS",
    "UNITS",
    "ActivityKind",
    "BreachDetected",
    "CampaignSnapshot",
    "CredentialScope",
    "CredentialSnapshot",
    "DeadLetter",
    "KindProgress",
    "ProgressChanged",
    "DeadlineRule",
    "KindTargets",
    "Language",
    "PeakWindow",
    "Platform",
    "ReportingPeriod",
    "Topic",
    "UnitChannels",
    "UnitContacts",
    "UnitKind",
    "UnitSnapshot",
]
