"""SIGTERM / SIGINT handling: stop taking work, let the running sync end, exit in bounded time.

The signal handler only counts signals (nothing that takes a lock runs inside it); the main thread
notices, asks the daemon to stop, and waits up to a grace period for the running sync to end after
its current page. A second signal stops waiting at once.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stoppable(Protocol):
    def request_stop(self) -> None: ...
    def wait_idle(self, timeout: float) -> bool: ...
    def shutdown(self, grace: float) -> bool: ...


class SignalWatch:
    """Counts SIGTERM/SIGINT while installed (main thread only)."""

    def __init__(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        self.signals = signals
        self.received: list[int] = []
        self._previous: dict[signal.Signals, Any] = {}

    def install(self) -> None:
        """Start counting; install it before starting work, so no early signal kills the process."""
        if self._previous:
            return
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)


def run_until_signalled(
    daemon: Stoppable,
    *,
    grace: float = DEFAULT_GRACE_SECONDS,
    poll: float = 0.2,
    watch: SignalWatch | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    """Block until SIGTERM/SIGINT (or `alive()` turns False), then stop the daemon.

    Returns True when the running sync (if any) ended within `grace` seconds, False when the
    caller should force the exit.
    """
    watch = watch if watch is not None else SignalWatch()
    watch.install()
    try:
        while not watch.received and alive():
            time.sleep(poll)
        name = signal.Signals(watch.received[0]).name if watch.received else "stop"
        log.info("received %s: shutting down (waiting up to %.0fs for a running sync)", name, grace)
        daemon.request_stop()
        deadline = time.monotonic() + grace
        while not daemon.wait_idle(poll):
            if len(watch.received) > 1:
                log.warning("second signal received: not waiting for the running sync")
                break
            if time.monotonic() >= deadline:
                log.warning("the running sync did not stop within %.0fs", grace)
                break
        return daemon.shutdown(0)
    finally:
        watch.restore()
