"""Fan-out of progress changes to the live streams (Server-Sent Events) of this process."""

import asyncio

from services.events import ProgressChanged


class ProgressHub:
    """Each subscriber gets its own bounded queue; a slow one loses old news, not memory."""

    def __init__(self, capacity: int = 1000) -> None:
        self._capacity = capacity
        self._queues: set[asyncio.Queue[ProgressChanged]] = set()

    def subscribe(self) -> asyncio.Queue[ProgressChanged]:
        queue: asyncio.Queue[ProgressChanged] = asyncio.Queue(self._capacity)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[ProgressChanged]) -> None:
        self._queues.discard(queue)

    def publish(self, changes: list[ProgressChanged]) -> None:
        for queue in self._queues:
            for change in changes:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(change)
