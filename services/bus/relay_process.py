"""An outbox relay in a process of its own, beside the service whose transactions fill the
outbox.

The service's event loop then spends nothing on publishing, and the relay runs on another
core: Python runs one thread at a time per process, so a relay inside the service takes its
turns from intake. The service starts the relay with `python -m <module>`, hands it the
service's settings on its stdin, wakes it with a byte on stdin after each commit, and reads
what it reports on its stdout (a JSON object a line) into the service's own metrics, so the
service's /metrics and /readyz tell about its relay. The relay stops on SIGTERM and when
its stdin closes (the service is gone, even killed); the service starts it again if it dies.
"""

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, BinaryIO

import structlog

from services.bus.backoff import Backoff
from services.bus.outbox import Relay, RelayMetrics, RelayObserver
from services.config import ServiceSettings
from services.observability import ServiceMetrics, configure_logging

log = structlog.get_logger()
FLUSH_SECONDS = 6  # for a relay told to stop to publish what is pending: acks may take 5 s
STOP_SECONDS = 15  # for it to flush and delete, before its service kills it


class RelayProcess:
    """The service's side: starts the relay process, keeps it running, wakes it, and turns
    its reports into metrics."""

    def __init__(self, module: str, settings: ServiceSettings, metrics: ServiceMetrics) -> None:
        self._module, self._settings, self._metrics = module, settings, metrics
        self._observer = RelayMetrics(metrics)
        self._process: asyncio.subprocess.Process | None = None
        self._working, self._trouble = False, "it has not connected to the broker yet"
        self._loop: asyncio.AbstractEventLoop | None = None

    async def ready(self) -> None:
        """Readiness check: the relay runs, and its last trip went through. It is told, not
        asked: a broker gone while the relay idles shows within about seven seconds (a
        look at the topics every two, which gives up after five)."""
        process = self._process
        if process is None or process.returncode is not None:
            raise ConnectionError("the outbox relay process is not running")
        if not self._working:
            raise ConnectionError(f"the outbox relay is failing: {self._trouble}")

    def wake(self) -> None:
        """Tell the relay that a transaction has just committed events. From any thread:
        a route's session (services.web.db) closes in FastAPI's thread pool, and a pipe
        written from there can leave its byte unsent, with no loop watching the pipe."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:  # no loop in this thread
            on_loop = False
        if on_loop:
            self._wake()
        else:
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        if process.stdin.transport.get_write_buffer_size() < 64:  # else it has been told
            process.stdin.write(b"w")

    async def run(self) -> None:
        """Run the relay process until cancelled, starting it again whenever it dies."""
        self._loop = asyncio.get_running_loop()
        backoff = Backoff(first=0.5, cap=10.0)
        while True:
            started = time.monotonic()
            try:
                reason = f"exited with {await self._run_once()}"
            except Exception as exc:  # it could not start, or said something unreadable
                reason = repr(exc)
            if time.monotonic() - started > 60:  # it ran a good while: start it again soon
                backoff.reset()
            delay = backoff.next()
            self._working, self._trouble = False, f"the relay process {reason}"
            self._metrics.errors.labels("outbox_relay_exit").inc()
            log.error("outbox.relay_stopped_unasked", reason=reason, restart_in=round(delay, 2))
            await asyncio.sleep(delay)

    async def _run_once(self) -> int:
        process = self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self._module, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=1 << 20,
            start_new_session=True)  # a terminal's Ctrl-C reaches the service, which stops it
        assert process.stdin is not None and process.stdout is not None
        try:
            # the shared settings only: a relay needs no secret of its service's
            shared = self._settings.model_dump_json(include=set(ServiceSettings.model_fields))
            process.stdin.write(shared.encode() + b"\n")
            async for line in process.stdout:
                self._apply(json.loads(line))
            return await process.wait()
        finally:
            self._working = False
            if process.returncode is None:  # cancelled: stop it, and let it finish its trip
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_SECONDS)
                except TimeoutError:
                    process.kill()
                    await process.wait()

    def _apply(self, report: dict[str, Any]) -> None:
        match report:
            case {"published": dict(topics), "ages": list(ages)}:
                self._observer.published(topics, ages)
            case {"pending": int(count), "oldest_age": float(age)}:
                self._observer.pending(count, age)
            case {"connected": True} | {"standby": True}:
                self._working = True
            case {"failed": str(error)}:
                self._working, self._trouble = False, error
                self._observer.failed(error)
            case _:
                log.warning("outbox.relay_report_unknown", report=report)


class _Reports:
    """The relay's side of RelayObserver: one JSON line per report, to the service."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def _send(self, report: dict[str, Any]) -> None:
        try:
            self._out.write(json.dumps(report, separators=(",", ":")).encode() + b"\n")
            self._out.flush()
        except BrokenPipeError:  # the service is gone; its closed stdin stops the relay
            pass

    def connected(self) -> None:
        self._send({"connected": True})

    def standby(self) -> None:
        self._send({"standby": True})

    def failed(self, error: str) -> None:
        self._send({"failed": error})

    def pending(self, count: int, oldest_age: float) -> None:
        self._send({"pending": count, "oldest_age": float(oldest_age)})

    def published(self, topics: dict[str, int], ages: list[float]) -> None:
        self._send({"published": topics, "ages": [round(age, 6) for age in ages]})


def serve(build: Callable[[ServiceSettings, RelayObserver], Relay]) -> None:
    """The body of a relay process's `__main__`: read the settings, relay until told to
    stop. `build` makes the relay from the service's settings."""
    settings = ServiceSettings.model_validate_json(sys.stdin.buffer.readline())
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print() cannot garble reports
    configure_logging(level=settings.log_level, json=settings.log_json)
    structlog.contextvars.bind_contextvars(process="outbox-relay")
    relay = build(settings, _Reports(out))
    try:
        import uvloop  # as uvicorn runs the service
        run: Callable[[Coroutine[Any, Any, None]], None] = uvloop.run
    except ImportError:
        run = asyncio.run
    run(_relay(relay))


async def _relay(relay: Relay) -> None:
    task = asyncio.create_task(relay.run())
    loop = asyncio.get_running_loop()

    def stop() -> None:  # publish what is pending first, if the broker lets it in time
        relay.stop()
        loop.call_later(FLUSH_SECONDS, task.cancel)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)

    def on_stdin() -> None:
        try:
            data = os.read(stdin, 4096)
        except BlockingIOError:
            return
        if data:
            relay.wake()
        else:  # the service is gone
            loop.remove_reader(stdin)
            task.cancel()

    loop.add_reader(stdin, on_stdin)
    try:
        await task
    except asyncio.CancelledError:
        pass
    log.info("outbox.relay_stopped")
