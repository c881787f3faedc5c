"""The one speed trick about memory, in one place: Python's cyclic collector paused while
tens of thousands of short-lived objects without cycles are made (a batch of report events
decoded by the fold, every report version the compiled report judges, the cells of its
workbook). Otherwise it walks them over and over: half the fold's decoding time
(bench/consumer_frameworks); the compiled report's figures at 5,000 units take 3.4 s with
it running and 1.7 s paused (bench/report prints both). Reference counting still frees
them; the collector runs again after."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
