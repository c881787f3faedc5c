"""The notifier service (skeleton until its own issue fills it)."""
