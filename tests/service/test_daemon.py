"""The Daemon: runs at start when asked or behind, counts outcomes, retries transient failures once,
survives any failure, and stops a running sync on request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from connector.config import ScheduleSettings
from connector.errors import (
    QualysAuthError,
    QualysUnreachableError,
    SyncAlreadyRunningError,
    SyncInterruptedError,
)
from connector.service.metrics import ServiceMetrics
from connector.service.scheduler import Daemon, RunReport

NOW = datetime(2025, 5, 10, 9, 0, tzinfo=UTC)
SCHEDULE = ScheduleSettings(hour=2, minute=0)


@dataclass
class Report:
    outcome: str = "succeeded"


class FakeSync:
    """A run_once that plays a script of results (exceptions are raised) and counts calls."""

    def __init__(self, *results: object) -> None:
        self.results = list(results)
        self.calls = 0
        self.done = threading.Event()

    def __call__(self) -> RunReport | None:
        self.calls += 1
        result = self.results.pop(0) if self.results else Report()
        if not self.results:
            self.done.set()
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, Report)
        return result


@pytest.fixture
def make_daemon() -> Iterator[Callable[..., Daemon]]:
    daemons: list[Daemon] = []

    def make(run_once: Callable[[], RunReport | None], **kwargs: object) -> Daemon:
        kwargs.setdefault("clock", lambda: NOW)
        kwargs.setdefault("retry_backoff", 0.05)
        daemon = Daemon(SCHEDULE, run_once, **kwargs)  # type: ignore[arg-type]
        daemons.append(daemon)
        return daemon

    yield make
    for daemon in daemons:
        daemon.shutdown(5)


def runs(metrics: ServiceMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("qualys_was_sync_runs_total", {"outcome": outcome})
    return value or 0.0


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_now_runs_one_sync_at_start_and_records_success(make_daemon: Callable[..., Daemon]) -> None:
    """--now: the sync runs at once; the success is counted and timestamped."""
    sync = FakeSync(Report())
    daemon = make_daemon(sync, last_success=NOW - timedelta(hours=1))
    daemon.start(run_now=True)
    assert sync.done.wait(5)
    wait_for(lambda: daemon.state.last_outcome == "succeeded")
    assert sync.calls == 1
    assert runs(daemon.metrics, "succeeded") == 1
    assert daemon.state.last_success_at == NOW
    timestamp = daemon.metrics.registry.get_sample_value(
        "qualys_was_last_success_timestamp_seconds"
    )
    assert timestamp == NOW.timestamp()


def test_catch_up_at_start_when_the_last_success_is_too_old(
    make_daemon: Callable[..., Daemon],
) -> None:
    """Down at the scheduled time (last success 30 h ago): the daemon syncs at start."""
    sync = FakeSync(Report())
    daemon = make_daemon(sync, last_success=NOW - timedelta(hours=30))
    daemon.start()
    assert sync.done.wait(5)
    assert sync.calls == 1


def test_no_sync_at_start_when_the_last_success_is_recent(
    make_daemon: Callable[..., Daemon],
) -> None:
    """Last success 3 h ago on a daily schedule: nothing runs until the next scheduled time."""
    sync = FakeSync(Report())
    daemon = make_daemon(sync, last_success=NOW - timedelta(hours=3))
    daemon.start()
    time.sleep(0.3)
    assert sync.calls == 0
    assert daemon.next_run_time().endswith("02:00:00+00:00")


def test_transient_failure_is_retried_once_after_the_backoff(
    make_daemon: Callable[..., Daemon],
) -> None:
    """Qualys unreachable: counted as failed, retried once after the backoff, then succeeds."""
    sync = FakeSync(QualysUnreachableError("connect timeout"), Report())
    daemon = make_daemon(sync)
    daemon.run_job()
    assert sync.calls == 2
    assert runs(daemon.metrics, "failed") == 1
    assert runs(daemon.metrics, "succeeded") == 1
    assert daemon.state.last_outcome == "succeeded"


def test_transient_failure_is_retried_only_once(make_daemon: Callable[..., Daemon]) -> None:
    """Two transient failures in a row: one retry, then wait for the next scheduled time."""
    sync = FakeSync(QualysUnreachableError("down"), QualysUnreachableError("still down"))
    daemon = make_daemon(sync)
    daemon.run_job()
    assert sync.calls == 2
    assert runs(daemon.metrics, "failed") == 2
    assert daemon.state.last_outcome == "failed"
    assert daemon.state.last_error == "still down"


def test_permanent_failure_is_not_retried_and_the_daemon_lives_on(
    make_daemon: Callable[..., Daemon],
) -> None:
    """Credentials refused: logged, counted, not retried; the scheduler keeps running."""
    sync = FakeSync(QualysAuthError("Qualys rejected the credentials"))
    daemon = make_daemon(sync, last_success=NOW)
    daemon.start()
    daemon.run_job()
    assert sync.calls == 1
    assert runs(daemon.metrics, "failed") == 1
    assert daemon.next_run_time() != "never"


def test_unexpected_exception_does_not_kill_the_daemon(
    make_daemon: Callable[..., Daemon], caplog: pytest.LogCaptureFixture
) -> None:
    """A bug (any exception) in a sync is logged with its traceback and counted as failed."""
    sync = FakeSync(RuntimeError("bug"), Report())
    daemon = make_daemon(sync)
    daemon.run_job()
    daemon.run_job()
    assert sync.calls == 2
    assert runs(daemon.metrics, "failed") == 1
    assert daemon.state.last_outcome == "succeeded"
    assert "unexpected error" in caplog.text


def test_lock_held_elsewhere_counts_as_skipped(make_daemon: Callable[..., Daemon]) -> None:
    """Another process is syncing: the run is skipped, not failed, and the state is unchanged."""
    sync = FakeSync(SyncAlreadyRunningError("a sync is already running for connector x"))
    daemon = make_daemon(sync, last_outcome="succeeded")
    daemon.run_job()
    assert runs(daemon.metrics, "skipped") == 1
    assert runs(daemon.metrics, "failed") == 0
    assert daemon.state.last_outcome == "succeeded"


def test_shutdown_stops_a_running_sync_within_the_grace_period(
    make_daemon: Callable[..., Daemon],
) -> None:
    """A running sync sees the stop event, ends after its page, and shutdown reports a clean stop."""
    started = threading.Event()

    def slow_sync() -> RunReport | None:
        started.set()
        while not daemon.stop.wait(0.02):
            pass
        raise SyncInterruptedError("stopped after page 3")

    daemon = make_daemon(slow_sync, last_success=NOW)
    daemon.start(run_now=True)
    assert started.wait(5)
    began = time.monotonic()
    assert daemon.shutdown(grace=5) is True
    assert time.monotonic() - began < 2
    assert daemon.state.last_outcome == "interrupted"
    assert runs(daemon.metrics, "interrupted") == 1


def test_stop_during_backoff_skips_the_retry(make_daemon: Callable[..., Daemon]) -> None:
    """A stop requested while waiting to retry ends the job without the retry."""
    sync = FakeSync(QualysUnreachableError("down"), Report())
    daemon = make_daemon(sync, retry_backoff=30)
    job = threading.Thread(target=daemon.run_job)
    job.start()
    wait_for(lambda: sync.calls == 1 and daemon.state.last_outcome == "failed")
    daemon.request_stop()
    job.join(5)
    assert not job.is_alive()
    assert sync.calls == 1
