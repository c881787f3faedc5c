"""The services the portal calls, as any client would: over HTTP, with the token of the
person signed in."""

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from services.portal.settings import PortalSettings

log = structlog.get_logger()


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def problems(self) -> list[dict[str, str]]:
        """A refusal's fields with their rules (services.web.errors' body); one without
        fields is one problem, its code the rule, on no field."""
        error = self.body.get("error", {}) if isinstance(self.body, dict) else {}
        return list(error.get("fields") or [{"field": "", "rule": str(error.get("code", ""))}])


RETRY_MS = 5000  # a live page's reconnection delay after its stream ended
SHARED_SECONDS = 30.0  # how long a campaign's calendar may be shown as last read


class BackendDown(Exception):
    """A service did not answer (down, or not ready: 503)."""


class Backends:
    def __init__(self, settings: PortalSettings) -> None:
        self._urls = {"registry": settings.registry_url.rstrip("/"),
                      "reporting": settings.reporting_url.rstrip("/"),
                      "aggregator": settings.aggregator_url.rstrip("/")}
        self._shared: dict[tuple[str, str], tuple[float, Answer]] = {}
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(15, connect=3),
                                         limits=httpx.Limits(max_connections=200))

    async def close(self) -> None:
        await self._client.aclose()

    async def get(self, service: str, path: str, token: str, **params: Any) -> Answer:
        return await self._call("GET", service, path, token, params=params)

    async def shared(self, service: str, path: str, token: str) -> Answer:
        """An answer the same for every signed-in caller (a campaign, its periods), kept
        SHARED_SECONDS: a page need not ask the registry each time."""
        now = time.monotonic()
        kept = self._shared.get((service, path))
        if kept is not None and now - kept[0] < SHARED_SECONDS:
            return kept[1]
        answer = await self.get(service, path, token)
        if answer.ok:
            self._shared[service, path] = (now, answer)
        return answer

    async def post(self, service: str, path: str, token: str, body: Any,
                   headers: dict[str, str] | None = None, raw: bool = False) -> Answer:
        """POST a JSON body; the answer's JSON (its bytes, with `raw`, when it is a 2xx)."""
        return await self._call("POST", service, path, token, json=body, headers=headers,
                                raw=raw)

    async def send(self, service: str, path: str, token: str, content: bytes,
                   content_type: str, **params: Any) -> Answer:
        """A file posted as it is (a CSV of units to import)."""
        return await self._call("POST", service, path, token, params=params, content=content,
                                headers={"content-type": content_type})

    async def _call(self, method: str, service: str, path: str, token: str,
                    params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                    raw: bool = False, **request: Any) -> Answer:
        try:
            response = await self._client.request(
                method, self._urls[service] + path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers={"authorization": f"Bearer {token}"} | (headers or {}), **request)
        except httpx.HTTPError as exc:
            raise BackendDown(f"{service}: {type(exc).__name__}") from None
        if response.status_code == 503:
            raise BackendDown(f"{service}: 503")
        if raw and response.is_success:
            return Answer(response.status_code, response.content)
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(response.status_code, body)

    async def stream(self, token: str, campaign: str) -> AsyncIterator[bytes]:
        """The aggregator's live progress events, as they come (Server-Sent Events). When
        the aggregator cannot be followed (down, loading, the token revoked), the stream
        ends, having told the browser to come back in RETRY_MS."""
        yield f"retry: {RETRY_MS}\n\n".encode()
        try:
            async with self._client.stream(
                    "GET", self._urls["aggregator"] + "/v1/progress/stream",
                    params={"campaign": campaign}, headers={"authorization": f"Bearer {token}"},
                    timeout=httpx.Timeout(None, connect=3)) as response:
                if response.status_code != 200:
                    log.info("portal.stream_refused", status=response.status_code)
                    return
                async for chunk in response.aiter_raw():
                    yield chunk
        except httpx.HTTPError as exc:
            log.info("portal.stream_lost", reason=type(exc).__name__)

    async def download(self, token: str, path: str, **params: Any) -> "Download":
        """A file the aggregator streams (a CSV table), opened: its status, then its bytes."""
        request = self._client.build_request(
            "GET", self._urls["aggregator"] + path, headers={"authorization": f"Bearer {token}"},
            params={k: v for k, v in params.items() if v is not None})
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise BackendDown(f"aggregator: {type(exc).__name__}") from None
        return Download(response)

    async def healthy(self, service: str) -> None:
        try:
            response = await self._client.get(self._urls[service] + "/healthz", timeout=3)
        except httpx.HTTPError as exc:
            raise ConnectionError(f"{service} does not answer: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ConnectionError(f"{service} answers {response.status_code}")


class Download:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = response.headers

    async def problems(self) -> list[dict[str, str]]:
        """A refusal's fields with their rules (as Answer's), the answer read and closed."""
        try:
            body = json.loads(await self._response.aread())
        except ValueError:
            body = None
        finally:
            await self._response.aclose()
        return Answer(self.status, body).problems()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():  # decoded, if gzipped
                yield chunk
        finally:
            await self._response.aclose()

    async def close(self) -> None:
        await self._response.aclose()
