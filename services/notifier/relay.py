"""The notifier's outbox relay, a process of its own (services.bus.relay_process):
`python -m services.notifier.relay`, settings on stdin. It publishes the notifier's dead
letters: messages its handlers could not read."""

from services import database
from services.bus import relay_process
from services.bus.outbox import Relay, RelayObserver
from services.config import ServiceSettings
from services.events import NOTIFIER_DEAD_LETTERS


def build(settings: ServiceSettings, observer: RelayObserver) -> Relay:
    return Relay(database.make_engine(settings.database_url), settings,
                 (NOTIFIER_DEAD_LETTERS,), observer)


if __name__ == "__main__":
    relay_process.serve(build)
