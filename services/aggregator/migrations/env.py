from services.aggregator.models import PeriodReport
from services.database import run_migrations
from services.outbox import OutboxMessage

# Both modules' tables live on SQLModel's one metadata; name both so neither import is dropped.
assert PeriodReport.metadata is OutboxMessage.metadata
run_migrations(PeriodReport.metadata)
