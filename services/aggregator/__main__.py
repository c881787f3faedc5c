"""`python -m services.aggregator`: run the aggregator service."""

from services.aggregator.app import create_app
from services.aggregator.settings import AggregatorSettings
from services.runtime import serve

serve(AggregatorSettings, create_app)
