from services.aggregator.models import PeriodReport
from services.database import run_migrations

run_migrations(PeriodReport.metadata)
