"""The one retry policy for Qualys calls, built in one place on tenacity.

Only TransientError is retried: what the classification table calls `retry` or `bad_response`,
plus connection errors, timeouts and bodies cut off mid-way (the client raises TransientError for
those). Waits what the server names, otherwise exponential backoff with jitter; caps the number of
attempts and the total time spent waiting; logs each retry (URL path only, never credentials).
Authentication failures are not TransientError, so they are never retried (accounts get locked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from connector.config import QualysSettings
from connector.errors import QualysError, QualysResponseError, QualysUnreachableError

log = logging.getLogger(__name__)

T = TypeVar("T")


class TransientError(QualysError):
    """One attempt failed in a way worth retrying. Never escapes RetryPolicy.call."""

    def __init__(
        self, reason: str, *, kind: str = "network", wait_seconds: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # "retry", "bad_response" or "network"
        self.wait_seconds = wait_seconds


RetryListener = Callable[[TransientError, int, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_wait_seconds: float = 1800.0
    sleep: Callable[[float], None] = time.sleep
    backoff_initial: float = 1.0
    backoff_max: float = 120.0
    on_retry: RetryListener | None = None  # (error, attempt that failed, seconds about to wait)

    @classmethod
    def from_settings(
        cls,
        settings: QualysSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: RetryListener | None = None,
    ) -> RetryPolicy:
        return cls(
            max_attempts=settings.retry_max_attempts,
            max_wait_seconds=settings.retry_max_wait_seconds,
            sleep=sleep,
            on_retry=on_retry,
        )

    def call(self, fn: Callable[[], T], *, what: str) -> T:
        """Run `fn` until it succeeds, raises a non-transient error, or the caps are reached.

        `what` names the call in logs and messages ("POST https://host/qps/.../finding").
        When the caps are reached the last TransientError becomes QualysUnreachableError
        (QualysResponseError when Qualys kept sending unusable bodies).
        """
        backoff = tenacity.wait_exponential_jitter(
            initial=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )
        too_long: list[float] = []

        def wait(state: tenacity.RetryCallState) -> float:
            error = _error_of(state)
            if error is not None and error.wait_seconds is not None:
                return error.wait_seconds
            return float(backoff(state))

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            if state.idle_for + state.upcoming_sleep > self.max_wait_seconds:
                too_long.append(state.upcoming_sleep)
                return True
            return False

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = _error_of(state)
            assert error is not None  # tenacity only sleeps after a retried error
            log.warning(
                "Qualys call %s failed (%s); retry %d of %d in %.1f s",
                what,
                error.reason,
                state.attempt_number,
                self.max_attempts - 1,
                state.upcoming_sleep,
            )
            if self.on_retry is not None:
                self.on_retry(error, state.attempt_number, state.upcoming_sleep)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except TransientError as exc:
            raise self._give_up(exc, what, too_long) from exc

    def _give_up(self, exc: TransientError, what: str, too_long: list[float]) -> QualysError:
        error_cls = QualysResponseError if exc.kind == "bad_response" else QualysUnreachableError
        if too_long:
            return error_cls(
                f"Qualys call {what} failed ({exc.reason}) and the next retry would wait "
                f"{too_long[-1]:.0f} s, beyond qualys.retry_max_wait_seconds="
                f"{self.max_wait_seconds:.0f} in total: try again later"
            )
        return error_cls(
            f"Qualys call {what} failed {self.max_attempts} time(s), last: {exc.reason}; "
            "try again later, or raise qualys.retry_max_attempts"
        )


def _error_of(state: tenacity.RetryCallState) -> TransientError | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    error = state.outcome.exception()
    return error if isinstance(error, TransientError) else None
