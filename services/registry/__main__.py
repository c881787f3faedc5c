"""`python -m services.registry`: run the registry service."""

from services.registry.app import create_app
from services.registry.settings import RegistrySettings
from services.runtime import serve

serve(RegistrySettings, create_app)
