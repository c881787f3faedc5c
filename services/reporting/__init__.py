"""The reporting service (skeleton until its own issue fills it)."""
