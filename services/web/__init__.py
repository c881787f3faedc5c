"""The HTTP edge every service shares: app shape, auth, errors, probes, metrics, docs."""
