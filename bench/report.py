"""bench/report: the compiled report for the City People's Committee, for the whole campaign,
at 114 and 5,000 units (the issue's target: under 5 s at 5,000 units).

For each size: the units of bench/feeds (70% commune-level) and every week of the campaign
(2026-W02..W09; 85% of units report each week, a fifth of those revise, a tenth late), folded
by the aggregator's own handler on the runner's in-memory source into a migrated SQLite
database, as the service folds them (so every version is kept with its recorded time). Then,
in process, as of a time after the last report: the figures (compiled.compile_report), the
Word document from the shipped template and the workbook, each timed over `--repeat` runs
(the median), with the files' sizes. The figures are worked out again for each document, as
the route does. The baseline of the one speed trick the report uses (services.memory's
pause of the cyclic collector) is measured in the same run: the figures again with the
collector left running, and the ratio.

Run: `.venv/bin/python -m bench.report [--units 114 5000] [--repeat 3]`.
"""

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sized
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from bench.feeds import CAMPAIGN, directory_of, reports
from services import database, periods
from services.aggregator import compiled, documents
from services.aggregator.handlers import ReportFold
from services.aggregator.migrations import MIGRATIONS
from services.bus.consumer import MemorySource
from services.bus.directory import Directory
from services.events import AGGREGATOR_DEAD_LETTERS, REPORTS, ReportingPeriod
from tests.handlers import run

AS_OF = datetime(2026, 3, 10, tzinfo=UTC)  # after the campaign's last deadline
TARGET_SECONDS = 5.0


def weeks(directory: Directory) -> tuple[str, ...]:
    campaign = directory.campaigns[CAMPAIGN]
    return tuple(p.name for p in periods.of_campaign(campaign)
                 if campaign.reporting_period is ReportingPeriod.iso_week)


def fold(path: Path, count: int) -> tuple[Directory, int, float]:
    """The size's reports folded by the aggregator's handler; (read model, events, s)."""
    engine = database.make_engine(f"sqlite:///{path}")
    database.migrate(engine, MIGRATIONS)
    directory = directory_of(count)
    events = reports(count, weeks=weeks(directory))
    source = MemorySource()
    for event in events:
        source.put(REPORTS, event.unit_code, event.model_dump_json().encode())
    started = time.perf_counter()
    run(ReportFold(directory, announce=False), source, engine=engine,
        dead_letters=AGGREGATOR_DEAD_LETTERS, max_batch=5000)
    took = time.perf_counter() - started
    engine.dispose()
    return directory, len(events), took


def timed(make: Callable[[], Sized], repeat: int) -> tuple[float, int]:
    """The median seconds of `repeat` runs, and the size of what one made."""
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = len(make())
        times.append(time.perf_counter() - started)
    return statistics.median(times), size


def measure(count: int, repeat: int, folder: Path) -> dict[str, float]:
    path = folder / f"report-{count}.sqlite"
    directory, events, folding = fold(path, count)
    engine = database.make_engine(f"sqlite:///{path}")
    campaign = directory.campaigns[CAMPAIGN]

    def figures() -> compiled.Compiled:
        with Session(engine) as session:
            return compiled.compile_report(session, directory, campaign, None, None, AS_OF)

    report = figures()
    started = time.perf_counter()
    for _ in range(repeat):
        figures()
    figuring = (time.perf_counter() - started) / repeat
    word, word_bytes = timed(lambda: documents.docx(figures()), repeat)
    book, book_bytes = timed(lambda: documents.workbook(figures()), repeat)
    with _collector_running():  # the baseline of services.memory's trick, in this run
        collecting, _ = timed(lambda: figures().units, repeat)
    engine.dispose()
    print(f"{count:>6} units: {events} report versions folded in {folding:.1f} s; "
          f"{len(report.periods)} periods, {len(report.units)} units in the annex")
    print(f"        figures alone {figuring:.2f} s; DOCX {word:.2f} s ({word_bytes // 1024} KiB); "
          f"XLSX {book:.2f} s ({book_bytes // 1024} KiB) (each with its figures)")
    print(f"        figures with the cyclic collector left running {collecting:.2f} s: "
          f"pausing it (services.memory) makes them {collecting / figuring:.1f}x as fast")
    return {"docx": word, "xlsx": book}


@contextlib.contextmanager
def _collector_running() -> Iterator[None]:
    """The compiled report's figures as they would be without services.memory's pause."""
    paused = compiled.collector_paused
    compiled.collector_paused = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        compiled.collector_paused = paused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[114, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {count: measure(count, args.repeat, Path(folder)) for count in args.units}
    largest = max(results)
    for name, seconds in results[largest].items():
        verdict = "met" if seconds < TARGET_SECONDS else "NOT met"
        print(f"target: {name.upper()} at {largest} units under {TARGET_SECONDS:.0f} s: "
              f"{seconds:.2f} s, {verdict}")


if __name__ == "__main__":
    main()
