"""The read-ahead iterator: order, byte bound, errors, early close."""

from __future__ import annotations

import threading

import pytest

from migrate.prefetch import Prefetch


def test_order_is_kept() -> None:
    assert list(Prefetch(iter(range(1000)), lambda _: 1, 7)) == list(range(1000))


def test_bytes_ahead_stay_under_the_limit() -> None:
    sizes = [3, 5, 2, 40, 1, 1, 9, 4] * 20
    produced = []
    lock = threading.Lock()

    def source():
        for i, n in enumerate(sizes):
            with lock:
                produced.append(n)
            yield i, n

    for i, _ in Prefetch(source(), lambda item: item[1], 10):
        with lock:
            ahead = produced[i + 1:]
        # queued beyond the item just handed out (the last one produced may be waiting
        # for room): within the bound, or one item larger than the bound, alone
        queued = ahead[:-1]
        assert sum(queued) <= 10 or len(queued) == 1
    assert len(produced) == len(sizes)


def test_producer_error_surfaces_in_order() -> None:
    def source():
        yield 1
        yield 2
        raise ValueError("bad mbox")

    got = []
    with pytest.raises(ValueError, match="bad mbox"):
        for item in Prefetch(source(), lambda _: 1, 100):
            got.append(item)
    assert got == [1, 2]


def test_closing_early_stops_the_producer() -> None:
    pulled = []

    def source():
        for i in range(10_000):
            pulled.append(i)
            yield i

    gen = Prefetch(source(), lambda _: 1, 5)
    assert next(gen) == 0
    gen.close()
    assert len(pulled) <= 7


def test_reading_starts_before_the_first_item_is_asked_for() -> None:
    started = threading.Event()

    def source():
        started.set()
        yield 1

    ahead = Prefetch(source(), lambda _: 1, 5)
    assert started.wait(10)  # the copy engine relies on this to read the next folder early
    assert list(ahead) == [1]


def test_close_releases_what_the_source_holds() -> None:
    closed = threading.Event()

    def source():
        try:
            yield from range(100)
        finally:
            closed.set()  # an open mbox file, in the reader

    with Prefetch(source(), lambda _: 1, 3) as ahead:
        assert next(ahead) == 0
    assert closed.is_set()
    with pytest.raises(StopIteration):
        next(ahead)
