"""Fault injection under load: nothing lost, nothing counted twice, every service back.

Registry, reporting and aggregator as processes on a broker of the test's own, a load of a
few thousand reports (a hundred units, five periods, most reports revisions) all the
while, and in turn: each service killed with SIGKILL and started again on its database,
reporting's outbox relay killed, the broker killed and started again (Tansu comes back
with no topics: recovery must publish everything again; Apache Kafka keeps its log), and
the broker stopped for 60 s. Credentials revoked along the way are refused within 1 s of
the registry's answer; every service is ready within 10 s of each broker return.
Afterwards, from the ground truth (every 2xx receipt, and what reporting stored): every
stored report is on the topic, every period's figures equal what the standing reports give,
each unit's standing version is the one counted and counted once, and a rebuild from the
topic gives the live figures. It prints the figures (tests/faultload.py does the work,
shared with `python -m bench.soak`).

Long (about three minutes): it runs on one leg per broker, tansu:sqlite and kafka:postgres.
"""

import time
from collections.abc import Callable
from functools import partial

import pytest

from deploy.brokers import launch
from tests.faultload import Faults, Load, Stack, Watch, revocation, table, verify
from tests.rig import BROKER, DATABASE, on_legs

pytestmark = on_legs("tansu:sqlite", "kafka:postgres", why="the fault-injection suite takes "
                     "minutes: it runs on tansu:sqlite and kafka:postgres only")
UNITS, RATE = 100, 25.0  # reports a second: a few thousand over the run
PAUSE = 3.0  # seconds of load between faults
OUTAGE = 60.0  # seconds the broker stays stopped
BACK_WITHIN = 10.0  # seconds for every service to be ready once the broker answers again
REVOKED_WITHIN = 1.0  # seconds from the registry's answer to reporting's 401


def test_nothing_is_lost_or_counted_twice_through_kills_and_broker_outages(
        service_factory, database_url, tmp_path, capsys) -> None:
    started = time.monotonic()
    own = launch(BROKER, workdir=tmp_path / "broker")
    try:
        stack = Stack(own, service_factory("registry", on=own),
                      service_factory("reporting", on=own),
                      service_factory("aggregator", on=own, kafka_session_timeout_ms="6000"))
        stack.populate(UNITS)
        _run(stack, database_url("aggregator_rebuilt"), capsys,
             {"setting up": time.monotonic() - started})
    finally:
        service_factory.stop()
        own.stop()


def _run(stack: Stack, rebuilt_database: str, capsys: pytest.CaptureFixture[str],
         took: dict[str, float]) -> None:
    faults, revoked = Faults(stack), []
    revoke = partial(revocation, stack, sorted(stack.tokens)[0])
    steps: list[Callable[[], object]] = [
        lambda: revoked.append(revoke()),
        partial(faults.kill, "reporting"), partial(faults.kill, "aggregator"),
        partial(faults.kill, "registry"), lambda: revoked.append(revoke()),
        partial(faults.kill_relay, "reporting"), faults.kill_broker,
        lambda: revoked.append(revoke()), partial(faults.stop_broker, OUTAGE),
        lambda: revoked.append(revoke())]
    load = Load(stack.reporting.url, stack.tokens, rate=RATE).start()
    watch = Watch(stack.services).start()
    try:
        for step in steps:
            time.sleep(PAUSE)
            step()
        time.sleep(PAUSE)
    finally:
        load.stop()
        watch.stop()
    took["load and faults"] = load.seconds
    verified = time.monotonic()
    found = verify(stack, load, rebuilt_database)
    took["verifying"] = time.monotonic() - verified
    with capsys.disabled():
        print("\n" + table(f"fault injection, {BROKER}:{DATABASE}", load, found, faults.done,
                           revoked, watch, took))

    assert not load.refused, load.refused  # a valid report is stored, or retried (5xx)
    assert found.accepted >= 2000, "the load did not reach a few thousand reports"
    assert not found.lost, found.lost[:20]
    assert not found.counted_twice, found.counted_twice[:20]
    assert not found.wrong, found.wrong[:20]
    assert found.published == found.stored == found.accepted
    assert found.counted == found.standing
    assert all(seconds <= REVOKED_WITHIN for seconds in revoked), revoked
    for outcome in faults.done:
        if outcome.broker:
            assert outcome.slowest <= BACK_WITHIN, (outcome.fault, outcome.ready_after)
