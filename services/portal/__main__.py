"""`python -m services.portal`: run the portal."""

from services.portal.app import create_app
from services.portal.settings import PortalSettings
from services.runtime import serve

serve(PortalSettings, create_app)
