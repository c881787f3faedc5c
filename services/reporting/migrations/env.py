from services.bus.outbox import OutboxMessage
from services.database import run_migrations
from services.reporting.models import Report

# Both modules' tables live on SQLModel's one metadata; name both so neither import is dropped.
assert Report.metadata is OutboxMessage.metadata
run_migrations(Report.metadata)
