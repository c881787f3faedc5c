"""bench/import: a 100,000-row unit import into a real registry process (see __main__)."""
