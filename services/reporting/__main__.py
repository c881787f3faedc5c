"""`python -m services.reporting`: run the reporting service."""

from services.reporting.app import create_app
from services.reporting.settings import ReportingSettings
from services.runtime import serve

serve(ReportingSettings, create_app)
