"""The registry's outbox relay, a process of its own (services.bus.relay_process):
`python -m services.registry.relay`, settings on stdin. When the broker lost a registry
topic, every snapshot is published again."""

from functools import partial

from sqlalchemy import Engine
from sqlmodel import Session

from services import database
from services.bus import relay_process
from services.bus.outbox import Relay, RelayObserver
from services.config import ServiceSettings
from services.events import REGISTRY_TOPICS
from services.registry import service


def build(settings: ServiceSettings, observer: RelayObserver) -> Relay:
    engine = database.make_engine(settings.database_url)
    return Relay(engine, settings, REGISTRY_TOPICS, observer,
                 on_topics_lost=partial(_republish, engine))


def _republish(engine: Engine) -> None:
    with database.write_lock(engine), Session(engine) as session:
        service.republish_all(session)


if __name__ == "__main__":
    relay_process.serve(build)
