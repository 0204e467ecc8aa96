"""The retry policy: server waits, backoff, caps, and no retry for authentication failures."""

from __future__ import annotations

import logging

import pytest

from connector.errors import QualysAuthError, QualysResponseError, QualysUnreachableError
from connector.qualys.retry import RetryPolicy, TransientError


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def policy(waits: list[float], **kw: float) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=int(kw.get("max_attempts", 5)),
        max_wait_seconds=kw.get("max_wait_seconds", 1000.0),
        sleep=waits.append,
    )


def test_server_named_waits_are_honoured() -> None:
    """When the server names a wait, exactly that wait is slept before the next attempt."""
    waits: list[float] = []
    fn = Flaky(
        TransientError("409", kind="retry", wait_seconds=7), TransientError("429", wait_seconds=11)
    )
    assert policy(waits).call(fn, what="POST /qps/x") == "done"
    assert waits == [7, 11]
    assert fn.calls == 3


def test_backoff_grows_with_jitter_when_no_wait_is_named() -> None:
    """Without a server wait the policy backs off exponentially (1, 2, 4 ... plus < 1 s jitter)."""
    waits: list[float] = []
    fn = Flaky(*(TransientError("reset") for _ in range(4)))
    policy(waits).call(fn, what="GET /x")
    assert len(waits) == 4
    for n, wait in enumerate(waits):
        assert 2**n <= wait <= 2**n + 1


def test_attempts_are_capped() -> None:
    """A call that keeps failing is tried max_attempts times, then QualysUnreachableError."""
    waits: list[float] = []
    fn = Flaky(*(TransientError("HTTP 503", kind="retry") for _ in range(10)))
    with pytest.raises(QualysUnreachableError, match="failed 3 time") as info:
        policy(waits, max_attempts=3).call(fn, what="POST https://h/qps/rest/3.0/search")
    assert fn.calls == 3
    assert len(waits) == 2
    assert "https://h/qps/rest/3.0/search" in str(info.value)
    assert isinstance(info.value.__cause__, TransientError)


def test_total_wait_is_capped() -> None:
    """A server wait beyond retry_max_wait_seconds gives up at once instead of sleeping."""
    waits: list[float] = []
    fn = Flaky(TransientError("rate limit 1965", kind="retry", wait_seconds=68928))
    with pytest.raises(QualysUnreachableError, match="retry_max_wait_seconds"):
        policy(waits, max_wait_seconds=1800).call(fn, what="POST /api/2.0/kb")
    assert waits == []
    assert fn.calls == 1


def test_total_wait_counts_every_sleep() -> None:
    """Waits add up: the retry that would push the total past the cap is not taken."""
    waits: list[float] = []
    fn = Flaky(*(TransientError("busy", wait_seconds=40) for _ in range(5)))
    with pytest.raises(QualysUnreachableError):
        policy(waits, max_attempts=10, max_wait_seconds=100).call(fn, what="x")
    assert waits == [40, 40]


def test_authentication_failures_are_never_retried() -> None:
    """QualysAuthError passes straight through on the first attempt (accounts get locked)."""
    waits: list[float] = []
    fn = Flaky(QualysAuthError("rejected"))
    with pytest.raises(QualysAuthError):
        policy(waits).call(fn, what="x")
    assert fn.calls == 1
    assert waits == []


def test_unusable_bodies_exhausted_become_response_errors() -> None:
    """Bodies that stay truncated end as QualysResponseError, not as 'unreachable'."""
    fn = Flaky(*(TransientError("truncated", kind="bad_response") for _ in range(5)))
    with pytest.raises(QualysResponseError, match="truncated"):
        policy([], max_attempts=2).call(fn, what="x")


def test_each_retry_is_logged_with_the_call_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """Every retry logs the call and the reason before sleeping, and notifies the listener."""
    seen: list[tuple[int, float]] = []
    retry = RetryPolicy(
        max_attempts=5,
        max_wait_seconds=100,
        sleep=lambda _s: None,
        on_retry=lambda _e, n, w: seen.append((n, w)),
    )
    caplog.set_level(logging.WARNING, logger="connector.qualys.retry")
    retry.call(Flaky(TransientError("HTTP 503", wait_seconds=3)), what="POST /qps/rest/3.0/x")
    assert seen == [(1, 3)]
    assert "POST /qps/rest/3.0/x" in caplog.text
    assert "HTTP 503" in caplog.text
