"""Quix Streams baseline for bench/aggregator (runs in its own virtualenv).

Counts activities per (unit, week, kind) with Quix's state store, reading the report topic
from the beginning, and prints `quix <messages> <seconds>` once it has seen them all.
Usage: python bench/quix_count.py BOOTSTRAP TOPIC EXPECTED
"""

import sys
import time
import uuid

from quixstreams import Application


def main() -> None:
    bootstrap, topic_name, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = Application(broker_address=bootstrap, consumer_group=f"quix-{uuid.uuid4().hex[:6]}",
                      auto_offset_reset="earliest", state_dir="/tmp/quix-state-" +
                      uuid.uuid4().hex[:6], use_changelog_topics=False)
    topic = app.topic(topic_name, value_deserializer="json")
    seen = {"n": 0, "start": 0.0}

    def count(value: dict, state) -> None:
        if seen["n"] == 0:
            seen["start"] = time.perf_counter()
        for activity in value["activities"]:
            key = f"{value['unit_code']}|{value['period']}|{activity['kind']}"
            state.set(key, state.get(key, 0) + activity["count"])
        seen["n"] += 1
        if seen["n"] >= expected:
            print(f"quix {seen['n']} {time.perf_counter() - seen['start']:.3f}", flush=True)
            app.stop()

    app.dataframe(topic).update(count, stateful=True)
    app.run()


if __name__ == "__main__":
    main()
