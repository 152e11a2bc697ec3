"""Read ahead of the sender: an iterator run in a thread, bounded by bytes.

Why: the copy engine's connection alternates between waiting for Cyrus to
commit a batch and building the next one (split, CRLF, SHA-1).  Reading the
next messages in a second thread while the first waits on the socket (which
releases the GIL) keeps Cyrus busy without a second connection.  The bound
is in bytes, not messages, so a run of multi-MB messages cannot fill memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def prefetch(items: Iterator[T], size: Callable[[T], int], limit: int) -> Iterator[T]:
    """Yield ``items`` in order, produced up to ``limit`` bytes ahead in a thread.

    Held at most: ``limit`` bytes queued plus the one item waiting for room;
    an item larger than ``limit`` still passes (queued alone).  An exception in the
    producer is raised here, where the item it failed on would have come.
    Closing the generator early stops the producer.
    """
    q: queue.Queue = queue.Queue()
    room = threading.Condition()
    state = {"ahead": 0, "stop": False}

    def produce() -> None:
        try:
            for item in items:
                n = size(item)
                with room:
                    room.wait_for(lambda n=n: state["stop"] or state["ahead"] == 0
                                  or state["ahead"] + n <= limit)
                    if state["stop"]:
                        return
                    state["ahead"] += n
                q.put((item, n))
            q.put((_END, 0))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((exc, -1))

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, n = q.get()
            if item is _END:
                return
            if n < 0:
                raise item
            with room:
                state["ahead"] -= n
                room.notify()
            yield item
    finally:
        with room:
            state["stop"] = True
            room.notify()
        worker.join()
