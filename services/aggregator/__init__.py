"""The aggregator service (skeleton until its own issue fills it)."""
