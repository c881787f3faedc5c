"""The one back-off of every retry loop: doubling, capped, with full jitter so that
services which lost the broker together do not come back in step."""

import random


class Backoff:
    """Delays for successive failures: random in [first/2, first * 2^n], at most `cap`."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first, self._cap = first, cap
        self.failures = 0

    def next(self) -> float:
        """The delay before the next try, after one more failure."""
        self.failures += 1
        ceiling = min(self._first * 2 ** (self.failures - 1), self._cap)
        return random.uniform(min(self._first / 2, ceiling), ceiling)

    def reset(self) -> None:
        """A success: the next failure waits the shortest delay again."""
        self.failures = 0
