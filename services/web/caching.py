"""Conditional reads: a feed's ETag, and 304 Not Modified for a client that has it.

The tag is weak (`W/"..."`): the same figures may go out compressed or not. A service makes
it from what its answer is derived of (the aggregates' revision, the registry's, the day);
it carries the process's own token too, so that two replicas, or one restarted, never send
a 304 for figures the client did not get from them.
"""

import os

from fastapi import Request, Response

_PROCESS = os.urandom(4).hex()


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
