"""The notifier service: receipts, reminders and alerts to units and the leadership, by email
and signed webhook, each sent once."""
