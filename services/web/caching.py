"""Conditional reads: a feed's ETag, and 304 Not Modified for a client that has it.

The tag is weak (`W/"..."`): the same figures may go out compressed or not. A service makes
it from what its answer is derived of (the aggregates' revision, the registry's, the day);
it carries the process's own token too, so that two replicas, or one restarted, never send
a 304 for figures the client did not get from them.
"""

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from pydantic import BaseModel

_PROCESS = os.urandom(4).hex()
# Smaller answers go as they are: gzip's header and the work cost more than they save. The
# one threshold of the feeds' answers and of the service's GZipMiddleware (its CSVs).
COMPRESS_FROM = 1024


def etag(*parts: object) -> str:
    """A weak entity tag of these parts, and of this process."""
    return 'W/"' + ".".join([_PROCESS, *map(str, parts)]) + '"'


def not_modified(request: Request, response: Response, tag: str) -> Response | None:
    """304 when the client's `If-None-Match` holds `tag`; otherwise None, with the tag and
    `Cache-Control: no-cache` (keep it, ask again each time) set on `response`."""
    headers = {"etag": tag, "cache-control": "private, no-cache"}
    held = request.headers.get("if-none-match", "")
    if tag in (t.strip() for t in held.split(",")) or held.strip() == "*":
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return None


class Answers:
    """The answers last made for each (request, ETag), as JSON bytes, and gzipped once for
    the clients that accept it: a feed is computed and compressed once per change of its
    figures, however many readers ask for it meanwhile (a dashboard on every desk polls the
    same period). Bounded; an answer whose tag has moved on is never found again, and is
    dropped first when room is needed. (GZipMiddleware passes an answer already encoded.)"""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._found: dict[tuple[str, str], _Made] = {}

    def answer(self, request: Request, response: Response, tag: str,
               make: Callable[[], BaseModel]) -> Response:
        """The JSON answer for this request under `tag`: made by `make` when not known."""
        key = (str(request.url.path) + "?" + str(request.url.query), tag)
        made = self._found.get(key)
        if made is None:
            made = _Made(make().model_dump_json().encode())
            if len(self._found) >= self._size:
                for old in list(self._found)[: self._size // 4]:  # oldest first
                    self._found.pop(old, None)
            self._found[key] = made
        body, headers = made.body, dict(response.headers)
        if len(body) >= COMPRESS_FROM:
            headers["vary"] = "Accept-Encoding"
            if "gzip" in request.headers.get("accept-encoding", ""):  # as GZipMiddleware
                if made.gzipped is None:
                    made.gzipped = gzip.compress(body, compresslevel=6, mtime=0)
                body, headers["content-encoding"] = made.gzipped, "gzip"
        return Response(body, media_type="application/json", headers=headers)


@dataclass(slots=True)
class _Made:
    body: bytes
    gzipped: bytes | None = None
