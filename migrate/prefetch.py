"""Read ahead of the sender: an iterator run in a thread, bounded by bytes.

Why: the copy engine's connection alternates between waiting for Cyrus to
commit a batch and building the next one (split, CRLF, SHA-1).  Reading the
next messages in a second thread while the first waits on the socket (which
releases the GIL) keeps Cyrus busy without a second connection.  The bound
is in bytes, not messages, so a run of multi-MB messages cannot fill memory.

The thread starts when the Prefetch is made, not when it is first read: the
copy engine makes the next folder's Prefetch while the current folder's last
batches are with Cyrus, so a new folder does not begin with a wait for its
first batch to be read.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class Prefetch(Generic[T]):
    """Iterate ``items`` in order, produced up to ``limit`` bytes ahead in a thread.

    Held at most: ``limit`` bytes queued plus the one item waiting for room;
    an item larger than ``limit`` still passes (queued alone).  An exception in the
    producer is raised by ``__next__``, where the item it failed on would have come.
    ``close`` (also on leaving a ``with`` block) stops the producer; a
    Prefetch that is neither read to its end nor closed keeps a thread waiting.
    """

    def __init__(self, items: Iterator[T], size: Callable[[T], int], limit: int):
        self._items = items
        self._size = size
        self._limit = limit
        self._queue: queue.Queue = queue.Queue()
        self._room = threading.Condition()
        self._ahead = 0
        self._stop = False
        self._done = False
        self._thread = threading.Thread(target=self._produce, name="prefetch", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._items:
                n = self._size(item)
                with self._room:
                    self._room.wait_for(lambda n=n: self._stop or self._ahead == 0
                                        or self._ahead + n <= self._limit)
                    if self._stop:
                        return
                    self._ahead += n
                self._queue.put((item, n))
            self._queue.put((_END, 0))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._queue.put((exc, -1))

    def __iter__(self) -> Prefetch[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item, n = self._queue.get()
        if item is _END:
            self.close()
            raise StopIteration
        if n < 0:
            self.close()
            raise item
        with self._room:
            self._ahead -= n
            self._room.notify()
        return item

    def close(self) -> None:
        """Stop the producer and wait for its thread (idempotent)."""
        self._done = True
        with self._room:
            self._stop = True
            self._room.notify()
        self._thread.join()
        close = getattr(self._items, "close", None)
        if close is not None:
            close()  # a generator's ``finally`` (an open file) runs now, in this thread

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
