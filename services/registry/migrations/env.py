from services.database import run_migrations
from services.outbox import OutboxMessage
from services.registry.models import Unit

assert Unit and OutboxMessage  # imported for their tables
run_migrations(Unit.metadata)
