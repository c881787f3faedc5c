from services.aggregator.models import PeriodReport
from services.bus.outbox import OutboxMessage
from services.database import run_migrations

# Both modules' tables live on SQLModel's one metadata; name both so neither import is dropped.
assert PeriodReport.metadata is OutboxMessage.metadata
run_migrations(PeriodReport.metadata)
