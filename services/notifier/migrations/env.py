from services.database import run_migrations
from services.notifier.models import Notification

run_migrations(Notification.metadata)
