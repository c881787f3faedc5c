"""Hai Phong campaign reporting: registry, reporting, aggregator and notifier services."""
