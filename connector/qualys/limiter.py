"""A concurrency limit that the server can change while calls are in flight (KB calls)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ConcurrencyLimiter:
    """Like a semaphore, but `set_limit` resizes it (from `X-Concurrency-Limit-Limit`).

    Thread-safe; shared by every thread that uses one QualysClient.
    """

    def __init__(self, limit: int = 1) -> None:
        self._limit = max(1, limit)
        self._running = 0
        self._peak = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def peak(self) -> int:
        """The most calls ever in flight at once (for tests and stats)."""
        return self._peak

    def set_limit(self, limit: int) -> None:
        with self._cond:
            self._limit = max(1, limit)
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._running < self._limit)
            self._running += 1
            self._peak = max(self._peak, self._running)
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify()
