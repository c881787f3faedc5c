"""The reporting service: report intake, retry-safe and durable, published through its outbox."""
