"""bench/brokers: the durable embedded broker against the in-memory one, and what it keeps.

The question: what does Tansu with SQLite storage (`tansu-durable`, built from crates.io
with the `libsql` feature) cost against the wheel's in-memory Tansu (`tansu`), which keeps
nothing across a restart? Each lane starts its broker in a fresh folder, creates one topic
of three partitions, then:

- produce: N messages of 300 bytes with aiokafka, acks=all, keyed over 1,000 keys, sent as
  fast as the producer batches them; time to the last acknowledgement;
- consume: one consumer without a group reads all N from the beginning; time to the last;
- restart: the broker is killed (SIGKILL) and started again in the same folder; the lane
  reads the topic back and says how many of the N messages it still holds.

Lanes alternate memory, durable, memory, durable; the ratio is durable / memory per
measure, from the medians. Also printed: the durable binary's first build, when its build
log is found beside the binary (`build.seconds`, written by `make durable-broker`).

Run: `.venv/bin/python -m bench.brokers [--messages N] [--runs 2]`.
"""

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.brokers import TANSU_DURABLE, build_durable_tansu, launch

TOPIC, PARTITIONS, SIZE = "bench.brokers.v1", 3, 300


async def _create(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1,
                                            topic_configs={"retention.ms": "-1"})])
    finally:
        await admin.close()


async def _produce(bootstrap: str, count: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    payload = os.urandom(SIZE // 2).hex().encode()
    try:
        started = time.perf_counter()
        futures = [await producer.send(TOPIC, payload, key=f"k{n % 1000}".encode())
                   for n in range(count)]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def _consume(bootstrap: str, count: int, timeout: float = 60) -> tuple[float, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=50)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen, started = 0, time.perf_counter()
        deadline = started + timeout
        while seen < count and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in batch.values())
        return time.perf_counter() - started, seen
    finally:
        await consumer.stop()


def lane(name: str, count: int) -> dict[str, float]:
    broker = launch(name, workdir=Path(tempfile.mkdtemp(prefix=f"bench-{name}-")))
    try:
        asyncio.run(_create(broker.bootstrap))
        produced = asyncio.run(_produce(broker.bootstrap, count))
        consumed, seen = asyncio.run(_consume(broker.bootstrap, count))
        assert seen == count, f"{name}: read {seen} of {count}"
        assert broker.process is not None
        os.killpg(broker.process.pid, signal.SIGKILL)
        broker.process.wait()
        started = time.perf_counter()
        broker.start()
        back = time.perf_counter() - started
        try:
            _, kept = asyncio.run(_consume(broker.bootstrap, count, timeout=5))
        except Exception:  # the topic itself is gone
            kept = 0
        return {"produce/s": count / produced, "consume/s": count / consumed,
                "ready s": back, "kept": kept}
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    build_durable_tansu()
    results: dict[str, list[dict[str, float]]] = {"tansu": [], "tansu-durable": []}
    for _ in range(args.runs):
        for name in results:
            results[name].append(lane(name, args.messages))
    print(f"{args.messages} messages of {SIZE} bytes, {PARTITIONS} partitions, acks=all, "
          f"{args.runs} runs each (medians)")
    print(f"{'broker':>14} | {'produce/s':>9} | {'consume/s':>9} | {'ready after kill':>16} | "
          f"kept after kill -9")
    medians = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
               for name, runs in results.items()}
    for name, m in medians.items():
        print(f"{name:>14} | {m['produce/s']:9.0f} | {m['consume/s']:9.0f} | "
              f"{m['ready s'] * 1000:13.0f} ms | {m['kept']:.0f} of {args.messages}")
    memory, durable = medians["tansu"], medians["tansu-durable"]
    print(f"{'ratio':>14} | {durable['produce/s'] / memory['produce/s']:9.2f} | "
          f"{durable['consume/s'] / memory['consume/s']:9.2f} |  (durable / memory)")
    built = TANSU_DURABLE.parent.parent / "build.seconds"
    if built.exists():
        print(f"first build of the durable broker: {float(built.read_text()) / 60:.1f} min "
              f"(cargo install, cached after in {TANSU_DURABLE.parent.parent})")


if __name__ == "__main__":
    main()
