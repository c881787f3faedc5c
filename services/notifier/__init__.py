"""The notifier service: receipts, reminders and alerts (not built yet: only its probes
and the registry read model)."""
