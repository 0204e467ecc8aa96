"""Fetch-ahead: run page iterators in threads and hand their pages over as they arrive.

The server's time per page is the floor of a sync; with the fetching in threads, the caller's
parsing and storing of one page overlaps the wait for the next.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

_DONE = object()
_Item = TypeVar("_Item")


def prefetch(
    producers: Sequence[Callable[[], Iterator[_Item]]], *, depth: int, abort: threading.Event
) -> Iterator[_Item]:
    """Run each page iterator in its own thread and yield pages as they arrive.

    A producer's exception is re-raised in the consumer; when the consumer stops early (an error
    or a shutdown), producers notice within a second and stop fetching.
    """
    pages: queue.Queue[object] = queue.Queue(maxsize=max(depth, 1))
    cancelled = threading.Event()

    def put(item: object) -> bool:
        while not cancelled.is_set():
            try:
                pages.put(item, timeout=1.0)
            except queue.Full:
                continue
            return True
        return False

    def produce(make: Callable[[], Iterator[_Item]]) -> None:
        try:
            for page in make():
                if abort.is_set() or not put(page):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(exc)
            return
        put(_DONE)  # also after an abort: the consumer must never wait for a page that won't come

    threads = [
        threading.Thread(target=produce, args=(make,), name=f"fetch-{i}", daemon=True)
        for i, make in enumerate(producers)
    ]
    for thread in threads:
        thread.start()
    remaining = len(threads)
    try:
        while remaining:
            item = pages.get()
            if item is _DONE:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item  # type: ignore[misc]
    finally:
        cancelled.set()
        for thread in threads:
            thread.join(timeout=5)
