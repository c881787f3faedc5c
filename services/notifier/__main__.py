"""`python -m services.notifier`: run the notifier service."""

from services.notifier.app import create_app
from services.notifier.settings import NotifierSettings
from services.runtime import serve

serve(NotifierSettings, create_app)
