from services.bus.outbox import OutboxMessage
from services.database import run_migrations
from services.registry.models import Unit

# Both modules' tables live on SQLModel's one metadata; name both so neither import is dropped.
assert Unit.metadata is OutboxMessage.metadata
run_migrations(Unit.metadata)
