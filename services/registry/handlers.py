"""The registry's Kafka handler, on the shared runner: reports that the Department entered on
a unit's behalf go into the audit trail. The entries commit in the runner's transaction,
before the offsets; a redelivered report finds its entry there, by its key
(campaign/period/unit/version), and adds none.

Most reports are a unit's own: they are read as plain JSON and skipped, and only those that
name who entered them are validated. One of those that is unreadable is logged and counted
(the runner's dead-letter metrics); the registry keeps no dead-letter topic of its own, the
aggregator's and the notifier's hold the same message.
"""

import json

import structlog
from pydantic import ValidationError
from sqlmodel import Session

from services.bus.consumer import Batch
from services.events import REPORTS, ReportSubmitted
from services.registry import audit, store

log = structlog.get_logger()


class OnBehalfReports:
    name = "registry-audit"
    topics = (REPORTS,)

    def handle(self, session: Session | None, batch: Batch) -> int:
        assert session is not None
        recorded = 0
        for message in batch.messages:
            if not _entered_by_someone(message.value):
                continue
            try:
                event = ReportSubmitted.model_validate_json(message.value or b"")
            except ValidationError as exc:
                batch.bury(message, str(exc))
                continue
            assert event.entered_by is not None
            credential = store.get_credential(session, event.entered_by.credential_id)
            recorded += audit.record_on_behalf(session, event,
                                               credential.scope if credential else None)
        return recorded

    def committed(self, result: int) -> None:
        if result:
            log.info("audit.reports_recorded", count=result)


def _entered_by_someone(value: bytes | None) -> bool:
    """Whether a message names who entered it. A cheap look first, at the compact JSON the
    reporting service writes, where the key comes once and unescaped (a quote inside a
    note is escaped): most reports are a unit's own, `"entered_by":null`. JSON written
    otherwise is parsed."""
    if not value or b'"entered_by"' not in value:
        return False
    if b'"entered_by":{' in value:
        return True
    if b'"entered_by":null' in value:
        return False
    try:
        found = json.loads(value)
    except ValueError:
        return True  # unreadable: validation says why
    return not isinstance(found, dict) or found.get("entered_by") is not None
