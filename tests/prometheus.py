"""A real Prometheus (Debian's package) for the tests: scraping the processes they started,
with the project's alert rules, on a free loopback port and a throw-away data folder."""

import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from deploy import monitoring
from deploy.brokers import free_port
from deploy.compose import to_yaml


class PrometheusServer:
    def __init__(self, folder: Path, targets: Mapping[str, Sequence[str]],
                 interval: str = "1s") -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed: deploy/install-test-deps.sh")
        self.binary, self.folder, self.port = binary, folder, free_port()
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(monitoring.FOLDER / monitoring.RULES, folder / monitoring.RULES)
        self.config = folder / "prometheus.yml"
        self.config.write_text(to_yaml(monitoring.prometheus_config(
            monitoring.static(targets), interval=interval, timeout=interval)))
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "PrometheusServer":
        log = (self.folder / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [self.binary, f"--config.file={self.config}",
             f"--storage.tsdb.path={self.folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Prometheus did not start:\n" + self.logs())
            time.sleep(0.2)

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def logs(self) -> str:
        return (self.folder / "prometheus.log").read_text(errors="replace")

    def api(self, path: str, **params: str) -> Any:
        """The `data` of an answer of the HTTP API; an error names the query."""
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30).json()
        assert answer["status"] == "success", f"{params}: {answer.get('error')}"
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        return list(data["result"]) if data["resultType"] in {"vector", "matrix"} else [
            data["result"]]
