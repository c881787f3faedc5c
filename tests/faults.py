"""`python -m tests.faults FAULT MODULE`: run a service (`python -m MODULE`) with a fault
injected, for the tests that prove recovery. Test code only: production has no hooks.

Faults:
- `exit_before_offset_commit`: the process exits (status 17) once a batch's transaction has
  committed and before its offsets are committed, as a crash there would.
- `clock_from_file`: the notifier's clock reads the time from the file named by
  `NOTIFIER_TEST_CLOCK_FILE` (ISO 8601; the real time while the file is absent), so a test
  drives its schedule without sleeping.
"""

import os
import runpy
import sys

from services.bus import consumer


def _exit_before_offset_commit() -> None:
    async def commit(self: consumer.KafkaSource, offsets: consumer.Offsets) -> None:
        if offsets and self.following is False:  # a consumer group's commit
            os._exit(17)

    consumer.KafkaSource.commit = commit  # type: ignore[method-assign]


def _clock_from_file() -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from services.notifier import dispatch

    path = Path(os.environ["NOTIFIER_TEST_CLOCK_FILE"])

    def now(self: dispatch.SystemClock) -> datetime:
        try:  # the test replaces the file whole (a rename), never writes it in place
            return datetime.fromisoformat(path.read_text().strip()).astimezone(UTC)
        except FileNotFoundError:
            return datetime.now(UTC)

    dispatch.SystemClock.now = now  # type: ignore[method-assign]


FAULTS = {"exit_before_offset_commit": _exit_before_offset_commit,
          "clock_from_file": _clock_from_file}

if __name__ == "__main__":
    fault, module = sys.argv[1], sys.argv[2]
    FAULTS[fault]()
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
