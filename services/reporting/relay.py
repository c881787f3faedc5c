"""The reporting service's outbox relay, run by the service as a process of its own (see
services.relay_process): `python -m services.reporting.relay`, settings on stdin."""

from functools import partial

import structlog
from sqlalchemy import Engine

from services import database, relay_process
from services.events import REPORTS
from services.outbox import Relay, RelayObserver
from services.reporting import service
from services.reporting.settings import ReportingSettings

log = structlog.get_logger()


def build(settings: ReportingSettings, observer: RelayObserver) -> Relay:
    engine = database.make_engine(settings.database_url)
    return Relay(engine, settings, (REPORTS,), observer,
                 on_topics_lost=partial(_republish, engine))


def _republish(engine: Engine) -> None:
    log.info("reporting.republished", reports=service.republish_all(engine))


if __name__ == "__main__":
    relay_process.serve(ReportingSettings, build)
