"""The reporting service's outbox relay, a process of its own (services.bus.relay_process):
`python -m services.reporting.relay`, settings on stdin. When the broker lost the report
topic, every stored report is published again."""

from functools import partial

import structlog
from sqlalchemy import Engine

from services import database
from services.bus import relay_process
from services.bus.outbox import Relay, RelayObserver
from services.config import ServiceSettings
from services.events import REPORTS
from services.reporting import service

log = structlog.get_logger()


def build(settings: ServiceSettings, observer: RelayObserver) -> Relay:
    engine = database.make_engine(settings.database_url)
    return Relay(engine, settings, (REPORTS,), observer,
                 on_topics_lost=partial(_republish, engine))


def _republish(engine: Engine) -> None:
    log.info("reporting.republished", reports=service.republish_all(engine))


if __name__ == "__main__":
    relay_process.serve(build)
