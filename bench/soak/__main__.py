"""bench/soak: ten minutes at 50 reports/s with a fault every minute, then the verdict.

The stack of the fault-injection test: registry, reporting and aggregator as processes
(each with its outbox relay) on SQLite and a broker of their own (Tansu, or `--broker
kafka`); reports at `--rate` a second from a hundred units over five periods, most of them
revisions, each sent again after a failure with its own report_id; and in the middle of
every minute one fault, in turn: a service, a relay or the broker killed with SIGKILL and
started again, or the broker stopped for `--outage` seconds. The load, the faults and the
verdict are tests/faultload.py's, shared with tests/integration/test_faults.py.

It prints at the end: reports accepted, stored, published, counted, lost (must be 0),
counted twice (must be 0), the longest time any service was not ready, and the registry's
and aggregator's peak memory (resident, sampled from /proc twice a second, each with its
relay's), and exits 1 when anything was lost, counted twice or differs.
Run: `.venv/bin/python -m bench.soak [--minutes 10] [--rate 50] [--broker tansu]`.
"""

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from deploy.brokers import launch
from tests.faultload import PERIODS, Faults, Findings, Load, Outcome, Stack, Watch, verify
from tests.rig import ServiceProcess, make_service


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=10, help="length of the run")
    parser.add_argument("--rate", type=float, default=50, help="reports a second")
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="tansu")
    parser.add_argument("--outage", type=float, default=20, help="seconds a broker stop lasts")
    parser.add_argument("--units", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    broker = launch(args.broker, workdir=work / "broker")
    services: list[ServiceProcess] = []
    try:
        start = partial(_start, services, work, broker)
        stack = Stack(broker, start("registry"), start("reporting"), start("aggregator"))
        stack.populate(args.units)
        load = Load(stack.reporting.url, stack.tokens, rate=args.rate).start()
        watch = Watch(stack.services).start()
        faults = Faults(stack)
        try:
            _soak(_rotation(faults, args.outage), args.minutes)
        finally:
            load.stop()
            watch.stop()
        found = verify(stack, load, f"sqlite:///{work / 'aggregator-rebuilt.db'}")
        print(_summary(args, load, found, faults.done, watch))
        print(f"(logs and databases in {work})")
    finally:
        for service in services:
            service.stop()
        broker.stop()
    sys.exit(1 if found.lost or found.counted_twice or found.wrong else 0)


def _start(started: list[ServiceProcess], work: Path, broker: Any, name: str
           ) -> ServiceProcess:
    extra = {"kafka_session_timeout_ms": "6000"} if name == "aggregator" else {}
    service = make_service(name, tmp=work, bootstrap=broker.bootstrap,
                           idempotence=broker.supports_idempotence,
                           database_url=f"sqlite:///{work / name}.db", **extra)
    started.append(service)
    return service.start()


def _rotation(faults: Faults, outage: float) -> list[Callable[[], Outcome]]:
    """One fault a minute, in this order (then again from the top): in a ten-minute run,
    every service, every relay and the broker killed once, and the broker stopped twice."""
    return [partial(faults.kill, "reporting"), partial(faults.stop_broker, outage),
            partial(faults.kill, "aggregator"), partial(faults.kill_relay, "reporting"),
            partial(faults.kill, "registry"), faults.kill_broker,
            partial(faults.kill_relay, "aggregator"), partial(faults.stop_broker, outage),
            partial(faults.kill_relay, "registry"), partial(faults.kill, "reporting")]


def _soak(rotation: list[Callable[[], Outcome]], minutes: int) -> None:
    """A fault in the middle of every minute (later, if the one before ran long)."""
    began = time.monotonic()
    for minute in range(minutes):
        time.sleep(max(0.0, began + 60 * minute + 30 - time.monotonic()))
        outcome = rotation[minute % len(rotation)]()
        print(f"minute {minute + 1}: {outcome.fault}, every service ready "
              f"{outcome.slowest:.1f} s after {'its return' if outcome.broker else 'it'}",
              flush=True)
    time.sleep(max(0.0, began + 60 * minutes - time.monotonic()))


def _summary(args: argparse.Namespace, load: Load, found: Findings, faults: list[Outcome],
             watch: Watch) -> str:
    name, longest, when = watch.longest_down()
    during = next((o.fault for o in faults if o.began - 1 <= when <= o.ended + o.slowest),
                  "no fault")
    recovery = max(faults, key=lambda o: o.slowest, default=None)
    peak = {n: b / 2**20 for n, b in watch.peak.items()}
    return "\n".join([
        f"bench/soak: {args.minutes} min at {args.rate:.0f} reports/s on {args.broker} + "
        f"SQLite, {load.units} units x {len(PERIODS)} periods, {len(faults)} faults "
        "(one a minute)",
        f"  reports accepted   {found.accepted:>7,}  (2xx receipts; {load.sent:,} sent at "
        f"{load.sent / load.seconds:.1f}/s; tries retried {sum(load.retried.values()):,}, "
        f"refused {sum(load.refused.values())})",
        f"  stored             {found.stored:>7,}",
        f"  published          {found.published:>7,}  (+{found.duplicates:,} duplicates on "
        "the topic: at least once)",
        f"  counted            {found.counted:>7,}  of {found.standing:,} standing reports "
        "(unit x period, its latest version); the periods' figures "
        f"{'equal' if not found.wrong else 'DIFFER FROM'} the receipts' and a rebuild's",
        f"  lost               {len(found.lost):>7,}",
        f"  counted twice      {found.twice:>7,}",
        f"  longest not ready  {longest:>7.1f} s  ({name}, during: {during}); slowest "
        f"recovery: {recovery.slowest if recovery else 0:.1f} s after "
        f"{recovery.fault if recovery else '-'}",
        f"  peak memory (RSS)  registry {peak.get('registry', 0):.0f} MB (+ relay "
        f"{peak.get('registry relay', 0):.0f} MB), aggregator {peak.get('aggregator', 0):.0f} "
        f"MB (+ relay {peak.get('aggregator relay', 0):.0f} MB), reporting "
        f"{peak.get('reporting', 0):.0f} MB (+ relay {peak.get('reporting relay', 0):.0f} MB)",
        *found.problems()])


if __name__ == "__main__":
    main()
