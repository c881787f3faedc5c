"""The durable embedded broker (Tansu with SQLite storage) keeps its topics across a kill.

Registry and reporting run on it; reports are published; the broker is killed with SIGKILL
and started again in the same folder. Every record is still there at its offset, the
services are ready again within 10 s, nothing needed publishing again (no relay found its
topics lost), and a report sent after the restart follows the old ones.

The binary is built once with cargo (`make durable-broker`, about 25 minutes on 2 cores) and
cached outside the checkout; where it has not been built, this test says so and skips.
"""

import os
import signal
import time
from functools import partial

import pytest

from deploy.brokers import TANSU_DURABLE, launch
from services.events import REPORTS, UNITS
from tests.integration.test_recovery import _status_is, banner, within
from tests.integration.test_reporting import Stack
from tests.rig import ServiceProcess, TopicReader, on_legs

pytestmark = [
    *on_legs("tansu:sqlite", why="one leg runs it: the durable broker is the embedded "
             "default's"),
    pytest.mark.skipif(not TANSU_DURABLE.exists(),
                       reason=f"no durable Tansu at {TANSU_DURABLE}: `make durable-broker`"),
]
LOSS = ("outbox.topics_lost", "outbox.topics_reset")


def _losses(service: ServiceProcess) -> int:
    return sum(service.logs().count(sign) for sign in LOSS)


def test_the_durable_broker_keeps_every_record_across_a_kill(service_factory, tmp_path) -> None:
    own = launch("tansu-durable", workdir=tmp_path / "broker")
    try:
        registry = service_factory("registry", on=own)
        reporting = service_factory("reporting", on=own)
        stack = Stack(registry, reporting, TopicReader(own.bootstrap))
        tokens = dict(stack.unit() for _ in range(3))
        for n, token in enumerate(tokens.values()):
            assert stack.submit(token, banner(f"truoc-{n}", n + 1)).status_code == 201
        topics = TopicReader(own.bootstrap)
        before = topics.read(REPORTS.name, timeout=30, until=lambda rs: len(rs) >= 3)
        units_before = topics.read_all(UNITS.name)
        assert len(before) == 3 and {r.value["report_id"] for r in before if r.value} == {
            "truoc-0", "truoc-1", "truoc-2"}
        losses = {s.service.name: _losses(s) for s in (registry, reporting)}

        assert own.process is not None
        os.killpg(own.process.pid, signal.SIGKILL)
        own.process.wait()
        own.start()
        back = time.monotonic()
        for service in (registry, reporting):
            within(10 - (time.monotonic() - back), partial(_status_is, service, 200),
                   f"{service.service.name} ready again")

        token = next(iter(tokens.values()))
        assert stack.submit(token, banner("sau", 9)).status_code == 201
        after = TopicReader(own.bootstrap).read(REPORTS.name, timeout=30,
                                                until=lambda rs: len(rs) >= 4)
        old = sorted((r.key, r.offset, r.value["report_id"]) for r in after
                     if r.value and r.value["report_id"] != "sau")
        assert old == sorted((r.key, r.offset, r.value["report_id"]) for r in before
                             if r.value)  # each where it was
        assert [r.value["report_id"] for r in after if r.value].count("sau") == 1
        assert len(TopicReader(own.bootstrap).read_all(UNITS.name)) == len(units_before)
        time.sleep(3)  # a relay looks at its topics every 2 s
        assert {s.service.name: _losses(s) for s in (registry, reporting)} == losses
    finally:
        service_factory.stop()
        own.stop()
