"""The aggregator: report events folded into live campaign progress, its feeds and gauges."""
