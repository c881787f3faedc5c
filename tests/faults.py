"""`python -m tests.faults FAULT MODULE`: run a service (`python -m MODULE`) with a fault
injected, for the tests that prove recovery. Test code only: production has no hooks.

Faults:
- `exit_before_offset_commit`: the process exits (status 17) once a batch's transaction has
  committed and before its offsets are committed, as a crash there would.
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


FAULTS = {"exit_before_offset_commit": _exit_before_offset_commit}

if __name__ == "__main__":
    fault, module = sys.argv[1], sys.argv[2]
    FAULTS[fault]()
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
