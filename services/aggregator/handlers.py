"""The aggregator's handler on the shared runner: report events (and the registry's unit
records, for each unit's parent) in, aggregates and progress changes out.

At-least-once delivery in, exactly-once effect out: the runner folds a batch (whatever has
arrived, up to AGGREGATOR_MAX_BATCH) in one transaction, with the progress changes it
causes queued in the outbox, and commits offsets only after that; folding skips every
report version it already holds, so a redelivered batch counts nothing twice. Each
message's key and version are read first; the rest only for the newest version of each key,
since nothing else in the batch can count. A unit record moves the unit's figures when its
parent changed (service.reparent), in the same transaction as the reports, before them.
An unreadable message is a dead letter."""

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlmodel import Session
from typing_extensions import TypedDict

from services.aggregator import feeds, service, store
from services.aggregator.hub import ProgressHub
from services.aggregator.metrics import AggregatorMetrics
from services.bus.consumer import Batch, Message
from services.bus.directory import Directory
from services.database import raw_in
from services.events import (
    AGGREGATOR_PROGRESS,
    REPORTS,
    UNITS,
    ProgressChanged,
    ReportSubmitted,
)
from services.events.registry import UtcDatetime
from services.memory import collector_paused

Folded = tuple[list[ReportSubmitted], list[ProgressChanged]]


class ReportFold:
    """Folds report events into the aggregates, keyed by each unit's parent as the unit
    topic gives it; emits one progress change per period touched (unless `announce` is
    off, as in a rebuild)."""

    name = "aggregator"
    topics = (REPORTS, UNITS)

    def __init__(self, directory: Directory, *, metrics: AggregatorMetrics | None = None,
                 announce: bool = True, clock: Callable[[], datetime] | None = None) -> None:
        self._directory, self._metrics, self._announce = directory, metrics, announce
        self._clock = clock

    def handle(self, session: Session | None, batch: Batch) -> Folded:
        assert session is not None
        with collector_paused():
            service.reparent(session, unit_records(batch))
            kept: list[tuple[Any, ...]] = []
            folded_at = self._clock() if self._clock is not None else None
            applied = service.fold(session, arrivals(batch, kept, folded_at),
                                   self._directory.campaigns)
            store.keep_versions(raw_in(session), kept)
        if not applied or not self._announce:
            return applied, []
        changes = feeds.changes(session, self._directory, applied)
        for change in changes:
            batch.emit(AGGREGATOR_PROGRESS, f"{change.campaign}:{change.period}", change)
        return applied, changes

    def committed(self, result: Folded) -> None:
        applied, _ = result
        if self._metrics is not None:
            self._metrics.observe_applied(applied)


class ProgressTail:
    """Follows the progress topic from its end, with no group: every process of the
    aggregator sees every change, whichever process folded it, and hands it to its live
    streams (`hub`) and its campaign gauges (`on_change`). The changes are on the topic once
    their aggregates are durable (the fold's outbox), so a reader never sees figures that
    could still roll back."""

    name = "aggregator-progress"
    topics = (AGGREGATOR_PROGRESS,)

    def __init__(self, hub: ProgressHub, on_change: Callable[[], None] | None = None) -> None:
        self._hub, self._on_change = hub, on_change

    def handle(self, session: Session | None, batch: Batch) -> list[ProgressChanged]:
        changes = []
        for message in batch.messages:
            if message.value is None:
                continue  # a compaction tombstone says nothing
            try:
                changes.append(ProgressChanged.model_validate_json(message.value))
            except ValidationError as exc:
                batch.bury(message, str(exc))
        return changes

    def committed(self, result: list[ProgressChanged]) -> None:
        self._hub.publish(result)
        if result and self._on_change is not None:
            self._on_change()


class _Entered(TypedDict):
    entered_at: UtcDatetime


class ReportHead(TypedDict):
    """What ordering and the kept versions need of a report message; the rest is read
    only if it can count. A typed dict, not a model: read for every message, it costs a
    third less."""

    campaign_code: str
    period: str
    unit_code: str
    version: Annotated[int, Field(ge=1)]
    received_at: UtcDatetime
    entered_by: NotRequired[_Entered | None]


_HEAD = TypeAdapter(ReportHead)


class _UnitHead(BaseModel):
    """What the fold needs of a unit record."""

    model_config = ConfigDict(extra="ignore", title="UnitSnapshot")

    code: str
    parent: str | None = None
    revision: int


def unit_records(batch: Batch) -> list[service.UnitRecord]:
    """The batch's unit records (a tombstone says nothing of a parent); the unreadable
    ones buried."""
    found: list[service.UnitRecord] = []
    for message in batch.messages:
        if message.topic != UNITS.name or message.value is None:
            continue
        try:
            unit = _UnitHead.model_validate_json(message.value)
        except ValidationError as exc:
            batch.bury(message, str(exc))
            continue
        found.append((unit.code, unit.parent or "", unit.revision))
    return found


def arrivals(batch: Batch, kept: list[tuple[Any, ...]] | None = None,
             folded_at: datetime | None = None) -> list[service.Arrival]:
    """The batch's report messages as the fold sees them; the unreadable ones buried. Each
    is also added to `kept`, if given, as a row of store.VERSION_COLUMNS, recorded when
    received (or entered on the unit's behalf) or, if later, `folded_at`: a report still on
    its way (in the outbox, behind a broker outage) when a compiled report stood at some
    time is not counted as of that time afterwards either. A rebuild, which reads the topic
    long after, gives no `folded_at`."""
    found: list[service.Arrival] = []
    for message in batch.messages:
        if message.topic != REPORTS.name:
            continue
        try:
            head = _HEAD.validate_json(message.value or b"")
        except ValidationError as exc:
            batch.bury(message, str(exc))
            continue
        key = (head["campaign_code"], head["period"], head["unit_code"])
        found.append((key, head["version"], partial(_read, batch, message)))
        if kept is not None:
            entered = head.get("entered_by")
            stated = entered["entered_at"] if entered else head["received_at"]
            kept.append((*key, head["version"],
                         stated if folded_at is None else max(stated, folded_at),
                         (message.value or b"").decode()))
    return found


def _read(batch: Batch, message: Message) -> ReportSubmitted | None:
    try:
        return ReportSubmitted.model_validate_json(message.value or b"")
    except ValidationError as exc:
        batch.bury(message, str(exc))
        return None
