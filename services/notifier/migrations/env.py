from services.bus.outbox import OutboxMessage
from services.database import run_migrations
from services.notifier.models import Notification

# Both modules' tables live on SQLModel's one metadata; name both so neither import is dropped.
assert Notification.metadata is OutboxMessage.metadata
run_migrations(Notification.metadata)
