"""The aggregator's outbox relay, a process of its own (services.bus.relay_process):
`python -m services.aggregator.relay`, settings on stdin. It publishes progress changes,
breaches and dead letters."""

from services import database
from services.bus import relay_process
from services.bus.outbox import Relay, RelayObserver
from services.config import ServiceSettings
from services.events import AGGREGATOR_BREACHES, AGGREGATOR_DEAD_LETTERS, AGGREGATOR_PROGRESS


def build(settings: ServiceSettings, observer: RelayObserver) -> Relay:
    return Relay(database.make_engine(settings.database_url), settings,
                 (AGGREGATOR_PROGRESS, AGGREGATOR_BREACHES, AGGREGATOR_DEAD_LETTERS), observer)


if __name__ == "__main__":
    relay_process.serve(build)
