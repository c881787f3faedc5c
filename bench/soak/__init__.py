"""bench/soak: a long run at a steady rate with a fault every minute (see __main__)."""
